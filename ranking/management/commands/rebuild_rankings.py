"""Recompute every board from the grants table and report where Redis differed."""

from django.core.management.base import BaseCommand

from ranking import services
from ranking.models import Board


class Command(BaseCommand):
    help = "Rebuild every leaderboard from PostgreSQL and report differences in the top N."

    def add_arguments(self, parser):
        parser.add_argument("--top", type=int, default=10)

    def handle(self, *args, top: int, **options):
        differences = 0
        for board in Board.objects.all():
            report = services.board_rebuild(board=board, top=top)
            differences += len(report.differences)
            self.stdout.write(f"{board.slug}: {report.keys} period key(s) rebuilt, {len(report.differences)} differed")
            for line in report.differences[:20]:
                self.stdout.write(self.style.WARNING(f"  {line}"))
        self.stdout.write(f"{differences} period key(s) differed in all")
