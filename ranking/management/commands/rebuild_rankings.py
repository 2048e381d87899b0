"""Recompute every board from the grants table and report where Redis differed."""

import time

from django.core.management.base import BaseCommand

from config import cli
from ranking import services
from ranking.models import Board


class Command(BaseCommand):
    help = "Rebuild every leaderboard from PostgreSQL and report differences in the top N."

    def add_arguments(self, parser):
        parser.add_argument("--top", type=int, default=10)
        cli.add_progress_argument(parser)

    def handle(self, *args, top: int, **options):
        started = time.monotonic()
        boards = list(Board.objects.all())
        differences = keys = 0
        enabled = cli.progress_enabled(self, options)
        with cli.progress_bar(self, description="rebuild", total=len(boards), enabled=enabled) as bar:
            for board in boards:
                bar.update(status=board.slug)
                report = services.board_rebuild(board=board, top=top)
                differences += len(report.differences)
                keys += report.keys
                bar.advance()
                bar.echo(f"{board.slug}: {report.keys} period key(s) rebuilt, {len(report.differences)} differed")
                for line in report.differences[:20]:
                    bar.echo(f"  {line}", style="WARNING")
        self.stdout.write(f"{differences} period key(s) differed in all")
        self.stdout.write(f"rebuilt {len(boards)} board(s), {keys} period key(s) in {time.monotonic() - started:.1f} s")
