"""Compare each campaign's Redis gate with PostgreSQL, report drift and fix it."""

from django.core.management.base import BaseCommand, CommandError

from coupons import services
from coupons.models import Campaign


class Command(BaseCommand):
    help = "Report drift between Redis and PostgreSQL for published campaigns, and rebuild drifted gates."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?", help="one campaign (default: every published campaign)")
        parser.add_argument("--dry-run", action="store_true", help="report only, change nothing")

    def handle(self, *args, slug: str | None, dry_run: bool, **options):
        campaigns = Campaign.objects.filter(status__in=Campaign.PUBLISHED).order_by("pk")
        if slug:
            campaigns = campaigns.filter(slug=slug)
            if not campaigns.exists():
                raise CommandError(f"No published campaign {slug!r}.")
        drifted = 0
        for campaign in campaigns:
            report = services.campaign_reconcile(campaign=campaign, fix=not dry_run)
            if not report.drifted:
                self.stdout.write(f"{campaign.slug}: in sync (remaining {report.remaining_db})")
                continue
            drifted += 1
            self.stdout.write(
                self.style.WARNING(
                    f"{campaign.slug}: DRIFT gate_missing={report.gate_missing} "
                    f"missing_in_redis={len(report.missing_in_redis)} unknown_in_redis={len(report.unknown_in_redis)} "
                    f"remaining redis={report.remaining_redis} db={report.remaining_db} "
                    f"meta_mismatch={len(report.meta_mismatch)}" + (" → rebuilt" if report.fixed else "")
                )
            )
            for line in (report.meta_mismatch + report.missing_in_redis + report.unknown_in_redis)[:20]:
                self.stdout.write(f"  {line}")
        self.stdout.write(f"{drifted} campaign(s) drifted" + ("" if dry_run else ", all fixed" if drifted else ""))
