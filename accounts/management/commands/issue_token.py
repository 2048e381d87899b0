"""Print a bearer token for a user: `manage.py issue_token alice --hours 24`."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import User


class Command(BaseCommand):
    help = "Print a bearer token for the given user."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--hours", type=int, default=None, help="lifetime (default API_TOKEN_LIFETIME_HOURS)")

    def handle(self, *args, username: str, hours: int | None, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        token, _ = services.api_token_issue(user=user, lifetime=timedelta(hours=hours) if hours else None)
        self.stdout.write(token)
