"""Load demo data idempotently: a staff account, demo users (and campaigns once they exist)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services as account_services
from accounts.models import User

DEMO_USERS = ("alice", "bob", "carol", "dave")
DEMO_PASSWORD = "firstcome-demo"


class Command(BaseCommand):
    help = "Create the staff account, demo users and demo campaigns; safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument("--admin-password", required=True, help="set on the staff account every run")

    @transaction.atomic
    def handle(self, *args, admin_username: str, admin_password: str, **options):
        admin = User.objects.filter(username=admin_username).first()
        if admin is None:
            admin = account_services.user_create(username=admin_username, password=admin_password, is_staff=True)
        else:
            admin.is_staff = admin.is_superuser = admin.is_active = True
            admin.set_password(admin_password)
            admin.save()
        created = 0
        for username in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                account_services.user_create(username=username, email=f"{username}@example.com", password=DEMO_PASSWORD)
                created += 1
        self.stdout.write(f"demo: staff {admin_username!r}, {created} new demo user(s) (password {DEMO_PASSWORD!r})")
