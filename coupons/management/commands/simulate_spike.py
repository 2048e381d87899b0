"""Fire a spike of claims at a running firstcome, then compare what the clients heard with the database."""

import json
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from config import cli
from coupons import selectors, spike
from coupons.models import Campaign, Grant
from coupons.services.campaigns import campaign_create, campaign_publish
from waitingroom.selectors import room_for_campaign

USER_CHUNK = 1000


class Command(BaseCommand):
    help = (
        "Fire many concurrent claims (random users, so they repeat) at a running firstcome over HTTP; "
        "show live progress, wait for the grants to settle, print a summary and optionally draw a PNG chart. "
        "Runs with the same settings (database, Redis, secret key) as the server it fires at."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the running server")
        parser.add_argument("--campaign", metavar="SLUG", help="the campaign to claim (created with --create-campaign)")
        parser.add_argument("--users", type=int, default=2000, help="distinct users (spike-000001 ..)")
        parser.add_argument("--requests", type=int, default=10_000, help="claims to send in all")
        parser.add_argument("--concurrency", type=int, default=64, help="clients sending at once")
        parser.add_argument("--create-campaign", action="store_true", help="create and open a new credit campaign")
        parser.add_argument("--quantity", type=int, default=500, help="N of a created campaign")
        parser.add_argument("--amount", type=int, default=10, help="KRW per grant of a created campaign")
        parser.add_argument("--user-prefix", default="spike-", help="username prefix of the simulated users")
        parser.add_argument("--seed", type=int, default=None, help="seed the random choice of users")
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds a client waits for an answer")
        parser.add_argument(
            "--drain-timeout", type=float, default=120.0, help="seconds to wait for pending grants to settle (0: skip)"
        )
        parser.add_argument("--chart", type=Path, metavar="PNG", help="write a chart of answers per second here")
        parser.add_argument("--json", type=Path, metavar="FILE", help="write the summary as JSON here")
        cli.add_progress_argument(parser)

    def handle(self, *args, **options):
        self._check_numbers(options)
        if options["chart"] and (install := spike.chart_missing()):
            self.stdout.write(self.style.WARNING(f"no chart: matplotlib is not installed here ({install}); going on"))
            options["chart"] = None
        base_url = options["url"].rstrip("/")
        enabled = cli.progress_enabled(self, options)
        campaign = self._campaign(options)
        tokens = self._tokens(options["users"], options["user_prefix"], enabled=enabled)
        self._preflight(base_url, campaign, tokens[0], options["timeout"])

        grants_before = Grant.objects.filter(campaign=campaign).count()
        path = f"/api/v1/campaigns/{campaign.slug}/claims/"
        total = options["requests"]
        concurrency = min(options["concurrency"], total)
        self.stdout.write(
            f"spike: {total:,} claims on {campaign.slug!r} from {concurrency} clients "
            f"as {len(tokens):,} users at {base_url}"
        )
        with cli.progress_bar(self, description="claims", total=total, enabled=enabled) as bar:

            def tick(live: spike.Live, elapsed: float) -> None:
                rate = live.done / elapsed if elapsed else 0
                seen = " ".join(f"{name}={n:,}" for name, n in spike.outcomes_in_order(live.outcomes).items())
                bar.update(completed=live.done, status=f"{rate:,.0f} req/s  {seen}")

            answers, seconds = spike.spike_fire(
                base_url=base_url,
                path=path,
                tokens=tokens,
                requests=total,
                concurrency=concurrency,
                seed=options["seed"],
                timeout=options["timeout"],
                on_tick=tick,
            )
            bar.update(completed=len(answers))
        summary = spike.spike_summarize(answers, seconds)
        self._print_requests(summary)
        if summary.by_outcome.get("rate_limited"):
            self.stdout.write(
                self.style.WARNING("429 rate_limited: the campaign's limits (all these clients share one IP address)")
            )

        drained = self._drain(campaign, options["drain_timeout"], enabled=enabled) if options["drain_timeout"] else None
        counts = selectors.grant_counts(campaign=campaign)
        campaign.refresh_from_db()
        report = self._report(options, base_url, campaign, concurrency, summary, counts, grants_before, drained)
        self._print_database(report)
        if options["chart"]:
            chart = spike.spike_chart(
                options["chart"],
                answers,
                title=f"{campaign.slug}: {summary.requests:,} claims, {summary.by_outcome.get(spike.ACCEPTED, 0):,} "
                f"accepted, {summary.requests_per_second:,.0f} req/s",
            )
            self.stdout.write(f"chart: {chart}")
        if options["json"]:
            options["json"].parent.mkdir(parents=True, exist_ok=True)
            options["json"].write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"summary: {options['json']}")
        self._verdict(report)

    # --- setup -------------------------------------------------------------------

    def _check_numbers(self, options: dict) -> None:
        for name, low in (("users", 1), ("requests", 1), ("concurrency", 1), ("quantity", 1), ("amount", 0)):
            if options[name] < low:
                raise CommandError(f"--{name} must be at least {low}.")
        if options["concurrency"] > 1024:
            raise CommandError("--concurrency must be at most 1024.")
        if options["timeout"] <= 0 or options["drain_timeout"] < 0:
            raise CommandError("--timeout must be positive and --drain-timeout not negative.")
        if not options["campaign"] and not options["create_campaign"]:
            raise CommandError("Name a campaign with --campaign SLUG, or add --create-campaign.")

    def _campaign(self, options: dict) -> Campaign:
        slug = options["campaign"] or f"spike-{timezone.now():%Y%m%d-%H%M%S}"
        if options["create_campaign"]:
            if Campaign.objects.filter(slug=slug).exists():
                raise CommandError(f"Campaign {slug!r} already exists: leave out --create-campaign to claim it.")
            now = timezone.now()
            campaign = campaign_create(
                **self._no_ip_limit(),
                slug=slug,
                title=f"Spike {slug}",
                kind=Campaign.Kind.CREDIT,
                quantity=options["quantity"],
                amount=options["amount"],
                opens_at=now,
                closes_at=now + timedelta(days=1),
                description="Made by manage.py simulate_spike.",
                unlisted=True,  # a test drop: off the home page and the rankings
            )
            campaign_publish(campaign=campaign, open_now=True)
            self.stdout.write(f"created and opened campaign {slug!r} (quantity {options['quantity']:,})")
        campaign = Campaign.objects.filter(slug=slug).first()
        if campaign is None or not campaign.is_published:
            raise CommandError(f"No published campaign {slug!r} (add --create-campaign to make one).")
        if campaign.allocation == Campaign.Allocation.CHOSEN:
            raise CommandError(f"{slug!r} sells chosen seats (hold, then confirm); simulate_spike claims plain slots.")
        room = room_for_campaign(campaign_id=campaign.pk)
        if room is not None:
            raise CommandError(
                f"{slug!r} is behind the waiting room {room.slug!r}: every claim needs an access pass from it, "
                "which simulate_spike does not obtain. Fire at a campaign without a room."
            )
        if campaign.status != Campaign.Status.OPEN:
            self.stdout.write(self.style.WARNING(f"{slug!r} is {campaign.status}: expect every claim to be refused."))
        return campaign

    @staticmethod
    def _no_ip_limit() -> dict:
        """Every simulated user fires from this one address: a per-IP claim limit (where campaigns
        have one: 0 turns it off) would measure the limit, not the drop. Per-user limits stay."""
        fields = {field.name for field in Campaign._meta.get_fields()}
        return {"rate_ip_burst": 0} if "rate_ip_burst" in fields else {}

    def _tokens(self, count: int, prefix: str, *, enabled: bool) -> list[str]:
        """Users prefix000001.. (made in bulk when missing) and a bearer token for each."""
        usernames = [f"{prefix}{n:06d}" for n in range(1, count + 1)]
        created = 0
        with cli.progress_bar(self, description="users", total=count, enabled=enabled) as bar:
            for first in range(0, count, USER_CHUNK):
                chunk = usernames[first : first + USER_CHUNK]
                created += account_services.user_create_many(usernames=chunk)
                bar.advance(len(chunk))
        tokens = []
        with cli.progress_bar(self, description="tokens", total=count, enabled=enabled) as bar:
            for first in range(0, count, USER_CHUNK):
                for user in User.objects.filter(username__in=usernames[first : first + USER_CHUNK], is_active=True):
                    tokens.append(account_services.api_token_issue(user=user, lifetime=timedelta(hours=2))[0])
                    bar.advance()
        if len(tokens) < count:
            raise CommandError(f"Only {len(tokens)} of {count} users {prefix}* are active.")
        self.stdout.write(f"users: {count:,} ({created:,} new), a bearer token each")
        return tokens

    def _preflight(self, base_url: str, campaign: Campaign, token: str, timeout: float) -> None:
        """The server must answer, know the campaign and accept tokens made here (same database and keys)."""
        checks = (
            (
                f"/api/v1/campaigns/{campaign.slug}/",
                None,
                "does not know this campaign: does it use the same database?",
            ),
            ("/api/v1/me/", token, "refuses tokens made here: does it use the same database and secret key?"),
        )
        for path, bearer, problem in checks:
            request = urllib.request.Request(base_url + path, headers={"Accept": "application/json"})
            if bearer:
                request.add_header("Authorization", f"Bearer {bearer}")
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    response.read()
            except urllib.error.HTTPError as error:
                raise CommandError(f"{base_url}{path} answered {error.code}: the server {problem}") from error
            except (OSError, ValueError) as error:
                raise CommandError(f"Nothing answers at {base_url}: {error}. Start it with `make run`.") from error

    # --- after the spike -----------------------------------------------------------

    def _drain(self, campaign: Campaign, timeout: float, *, enabled: bool) -> bool:
        """Wait until no grant of the campaign is pending (the workers delivered or failed them all)."""
        counts = selectors.grant_counts(campaign=campaign)
        deadline = time.monotonic() + timeout
        total = counts.pending + counts.succeeded + counts.failed
        with cli.progress_bar(self, description="drain", total=total, enabled=enabled) as bar:
            while counts.pending and time.monotonic() < deadline:
                bar.update(completed=counts.succeeded + counts.failed, status=f"pending={counts.pending}")
                time.sleep(0.5)
                counts = selectors.grant_counts(campaign=campaign)
            bar.update(completed=counts.succeeded + counts.failed, status=f"pending={counts.pending}")
        return counts.pending == 0

    def _report(self, options, base_url, campaign, concurrency, summary, counts, grants_before, drained) -> dict:
        new_grants = counts.pending + counts.succeeded + counts.failed - grants_before
        accepted = summary.by_outcome.get(spike.ACCEPTED, 0)
        return {
            "url": base_url,
            "campaign": campaign.slug,
            "users": options["users"],
            "concurrency": concurrency,
            "requests": summary.requests,
            "seconds": round(summary.seconds, 3),
            "requests_per_second": round(summary.requests_per_second, 1),
            "by_status": {str(status): n for status, n in summary.by_status.items()},
            "by_outcome": summary.by_outcome,
            "accepted": accepted,
            "duplicates": summary.by_outcome.get(spike.DUPLICATE, 0),
            "sold_out": summary.by_outcome.get(spike.SOLD_OUT, 0),
            "errors": summary.errors,
            "latency_ms": summary.latency_ms,
            "database": {
                "status": campaign.status,
                "quantity": campaign.quantity,
                "pending": counts.pending,
                "succeeded": counts.succeeded,
                "failed": counts.failed,
                "live": counts.live,
                "new_grants": new_grants,
                "over_issue": max(0, counts.live - campaign.quantity),
            },
            "accepted_equals_new_grants": accepted == new_grants,
            "drained": drained,
        }

    def _print_requests(self, summary: spike.SpikeSummary) -> None:
        rows = [
            ("requests", summary.requests),
            ("seconds", f"{summary.seconds:.2f}"),
            ("requests per second", f"{summary.requests_per_second:,.1f}"),
        ]
        rows += [(f"HTTP {status or '- (no answer)'}", n) for status, n in summary.by_status.items()]
        rows += [(f"{outcome}", n) for outcome, n in summary.by_outcome.items()]
        rows += [("errors (5xx, no answer)", summary.errors)]
        rows += [(f"latency {name}", f"{ms:.1f} ms") for name, ms in summary.latency_ms.items()]
        cli.table_print(self, title="the spike, as the clients saw it", rows=rows)

    def _print_database(self, report: dict) -> None:
        db = report["database"]
        rows = [
            ("campaign status", db["status"]),
            ("grants pending", db["pending"]),
            ("grants succeeded", db["succeeded"]),
            ("grants failed", db["failed"]),
            ("live grants / quantity", f"{db['live']:,} / {db['quantity']:,}"),
            ("over-issue (must be 0)", db["over_issue"]),
            ("new grant rows", db["new_grants"]),
            ("202 answers = new grant rows", "yes" if report["accepted_equals_new_grants"] else "NO"),
            ("drained", {True: "yes", False: "NO: grants still pending", None: "not waited for"}[report["drained"]]),
        ]
        cli.table_print(self, title=f"the database: campaign {report['campaign']!r}", rows=rows)

    def _verdict(self, report: dict) -> None:
        problems = []
        if report["database"]["over_issue"]:
            problems.append(f"over-issue of {report['database']['over_issue']}")
        if not report["accepted_equals_new_grants"]:
            problems.append(
                "202 answers differ from the new grant rows (answers lost to connection errors? other traffic?)"
            )
        if report["drained"] is False:
            problems.append("grants still pending after --drain-timeout (is a worker running?)")
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write(self.style.SUCCESS("ok: the database agrees with what the clients were told"))
