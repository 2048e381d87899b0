"""Compare each campaign's Redis gate with PostgreSQL, report drift and fix it."""

import time

from django.core.management.base import BaseCommand, CommandError

from config import cli
from coupons.models import Campaign
from coupons.services.reconcile import campaign_reconcile


class Command(BaseCommand):
    help = "Report drift between Redis and PostgreSQL for published campaigns, and rebuild drifted gates."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?", help="one campaign (default: every published campaign)")
        parser.add_argument("--dry-run", action="store_true", help="report only, change nothing")
        cli.add_progress_argument(parser)

    def handle(self, *args, slug: str | None, dry_run: bool, **options):
        campaigns = Campaign.objects.filter(status__in=Campaign.PUBLISHED).order_by("pk")
        if slug:
            campaigns = campaigns.filter(slug=slug)
            if not campaigns.exists():
                raise CommandError(f"No published campaign {slug!r}.")
        started = time.monotonic()
        checked = drifted = 0
        enabled = cli.progress_enabled(self, options)
        with cli.progress_bar(self, description="reconcile", total=campaigns.count(), enabled=enabled) as bar:
            for campaign in campaigns.iterator():
                bar.update(status=campaign.slug)
                report = campaign_reconcile(campaign=campaign, fix=not dry_run)
                checked += 1
                bar.advance()
                if report.retired and not report.drifted:
                    bar.echo(f"{campaign.slug}: retired, its tombstone in place (remaining {report.remaining_db})")
                    continue
                if not report.drifted:
                    bar.echo(f"{campaign.slug}: in sync (remaining {report.remaining_db})")
                    continue
                drifted += 1
                bar.echo(
                    f"{campaign.slug}: DRIFT gate_missing={report.gate_missing} "
                    f"missing_in_redis={len(report.missing_in_redis)} unknown_in_redis={len(report.unknown_in_redis)} "
                    f"slots_mismatch={len(report.slots_mismatch)} "
                    f"remaining redis={report.remaining_redis} db={report.remaining_db} in_flight={report.in_flight} "
                    f"meta_mismatch={len(report.meta_mismatch)}" + (" → rebuilt" if report.fixed else ""),
                    style="WARNING",
                )
                details = report.meta_mismatch + report.missing_in_redis + report.unknown_in_redis
                for line in (details + report.slots_mismatch)[:20]:
                    bar.echo(f"  {line}")
        self.stdout.write(f"{drifted} campaign(s) drifted" + ("" if dry_run else ", all fixed" if drifted else ""))
        self.stdout.write(
            f"checked {checked} campaign(s) in {time.monotonic() - started:.1f} s: "
            f"{checked - drifted} in sync, {drifted} drifted" + (" (dry run: nothing changed)" if dry_run else "")
        )
