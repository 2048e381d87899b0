"""Load demo data idempotently: a staff account, demo users, campaigns in several states, a room and seats."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from config import cli
from coupons.models import Campaign, Seat
from coupons.seats.services import seat_map_generate
from coupons.services.campaigns import campaign_create, campaign_publish
from coupons.services.wallets import wallet_adjust
from waitingroom.models import WaitingRoom
from waitingroom.services.rooms import room_create, room_publish

DEMO_USERS = ("alice", "bob", "carol", "dave")
DEMO_PASSWORD = "firstcome-demo"
# `--users N` adds demo-000001 .. demo-N, created in chunks of this many per insert.
CROWD_PREFIX = "demo-"
CROWD_CHUNK = 1000

# slug, title, kind, quantity, amount, opens in, lasts, publish?
DEMO_CAMPAIGNS = (
    (
        "welcome-10-krw",
        "10 KRW for the first 10,000",
        Campaign.Kind.CREDIT,
        10_000,
        10,
        timedelta(0),
        timedelta(days=7),
        True,
    ),
    (
        "coffee-coupon",
        "3,000 KRW off your coffee — 100 codes",
        Campaign.Kind.COUPON,
        100,
        3_000,
        timedelta(0),
        timedelta(days=3),
        True,
    ),
    (
        "midnight-drop",
        "Midnight drop: 500 times 5,000 KRW",
        Campaign.Kind.CREDIT,
        500,
        5_000,
        timedelta(hours=2),
        timedelta(hours=1),
        True,
    ),
    (
        "last-weeks-drop",
        "Last week's drop",
        Campaign.Kind.CREDIT,
        50,
        1_000,
        timedelta(days=-8),
        timedelta(days=1),
        True,
    ),
    (
        "concert-presale",
        "Concert presale: 300 tickets behind a waiting room",
        Campaign.Kind.COUPON,
        300,
        50_000,
        timedelta(0),
        timedelta(days=2),
        True,
    ),
    (
        "idea-in-progress",
        "An idea in progress (draft)",
        Campaign.Kind.COUPON,
        20,
        10_000,
        timedelta(days=3),
        timedelta(days=1),
        False,
    ),
)


class Command(BaseCommand):
    help = "Create the staff account, demo users and demo campaigns; safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument("--admin-password", required=True, help="set on the staff account every run")
        parser.add_argument(
            "--users",
            type=int,
            default=0,
            metavar="N",
            help=f"also make sure {CROWD_PREFIX}000001 .. N exist (password {DEMO_PASSWORD!r}), in bulk",
        )
        cli.add_progress_argument(parser)

    def handle(self, *args, admin_username: str, admin_password: str, users: int, **options):
        if users < 0:
            raise CommandError("--users must be 0 or more.")
        with transaction.atomic():
            self._users(admin_username, admin_password)
        self._crowd(users, enabled=cli.progress_enabled(self, options))
        self._campaigns()
        cli.table_print(
            self,
            title="demo data",
            rows=[
                ("users", User.objects.count()),
                (f"  {CROWD_PREFIX}* users", User.objects.filter(username__startswith=CROWD_PREFIX).count()),
                ("campaigns", Campaign.objects.count()),
                ("waiting rooms", WaitingRoom.objects.count()),
                ("seats", Seat.objects.count()),
            ],
        )

    def _users(self, admin_username: str, admin_password: str) -> None:
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

    def _crowd(self, count: int, *, enabled: bool) -> None:
        """N more demo users, fast: one bulk insert per chunk and a password hashed once."""
        if not count:
            return
        created = 0
        with cli.progress_bar(self, description="demo users", total=count, enabled=enabled) as bar:
            for first in range(1, count + 1, CROWD_CHUNK):
                last = min(first + CROWD_CHUNK, count + 1)
                usernames = [f"{CROWD_PREFIX}{n:06d}" for n in range(first, last)]
                created += account_services.user_create_many(usernames=usernames, password=DEMO_PASSWORD)
                bar.advance(len(usernames))
        self.stdout.write(f"demo: {created:,} new of {count:,} crowd user(s) {CROWD_PREFIX}000001..")

    def _campaigns(self) -> None:
        now = timezone.now().replace(second=0, microsecond=0)
        created = 0
        for slug, title, kind, quantity, amount, opens_in, lasts, publish in DEMO_CAMPAIGNS:
            campaign = Campaign.objects.filter(slug=slug).first()
            if campaign is None:
                campaign = campaign_create(
                    slug=slug,
                    title=title,
                    kind=kind,
                    quantity=quantity,
                    amount=amount,
                    opens_at=now + opens_in,
                    closes_at=now + opens_in + lasts,
                    description=f"A demo campaign: {quantity:,} slots, first come first served.",
                )
                created += 1
            if publish and campaign.status == Campaign.Status.DRAFT:
                campaign_publish(campaign=campaign)
        self._seats(now)
        self.stdout.write(f"demo: {created} new campaign(s); {Campaign.objects.count()} in all")
        self._room(now)

    def _seats(self, now) -> None:
        campaign = Campaign.objects.filter(slug="concert-seats").first()
        if campaign is None:
            campaign = campaign_create(
                slug="concert-seats",
                title="Concert: pick your seat",
                kind=Campaign.Kind.COUPON,
                quantity=1,
                amount=0,
                opens_at=now,
                closes_at=now + timedelta(days=7),
                description="Choose a seat on the map, hold it for five minutes and pay from your wallet.",
            )
            count = seat_map_generate(campaign=campaign, rows="A-C:50000, D-H:30000", seats_per_row=12)
            campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
            for username in DEMO_USERS:  # something in the wallet to buy with
                user = User.objects.get(username=username)
                wallet_adjust(user_id=user.pk, amount=100_000, reference=f"demo-topup:{username}")
            self.stdout.write(
                f"demo: seat campaign 'concert-seats' ({count} seats); demo wallets topped up by 100,000 KRW"
            )

    def _room(self, now) -> None:
        room = WaitingRoom.objects.filter(slug="concert-presale-line").first()
        if room is None:
            room_create(
                slug="concert-presale-line",
                title="Concert presale line",
                campaign_id=Campaign.objects.get(slug="concert-presale").pk,
                max_active=20,
                admit_rate=2,
                opens_at=now,
                status=WaitingRoom.Status.QUEUEING,
            )
            self.stdout.write("demo: waiting room 'concert-presale-line' in front of 'concert-presale'")
        else:
            room_publish(room=room)
