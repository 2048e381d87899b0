"""Load demo data idempotently: a staff account, demo users and campaigns in several states."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from coupons import services
from coupons.models import Campaign

DEMO_USERS = ("alice", "bob", "carol", "dave")
DEMO_PASSWORD = "firstcome-demo"

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

    def handle(self, *args, admin_username: str, admin_password: str, **options):
        with transaction.atomic():
            self._users(admin_username, admin_password)
        self._campaigns()

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

    def _campaigns(self) -> None:
        now = timezone.now().replace(second=0, microsecond=0)
        created = 0
        for slug, title, kind, quantity, amount, opens_in, lasts, publish in DEMO_CAMPAIGNS:
            campaign = Campaign.objects.filter(slug=slug).first()
            if campaign is None:
                campaign = Campaign.objects.create(
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
                services.campaign_publish(campaign=campaign)
        self._seats(now)
        self.stdout.write(f"demo: {created} new campaign(s); {Campaign.objects.count()} in all")
        self._room(now)

    def _seats(self, now) -> None:
        from coupons import seats

        campaign = Campaign.objects.filter(slug="concert-seats").first()
        if campaign is None:
            campaign = Campaign.objects.create(
                slug="concert-seats",
                title="Concert: pick your seat",
                kind=Campaign.Kind.COUPON,
                quantity=1,
                amount=0,
                opens_at=now,
                closes_at=now + timedelta(days=7),
                description="Choose a seat on the map, hold it for five minutes and pay from your wallet.",
            )
            seats.seat_map_generate(campaign=campaign, rows="A-B:50000, C-E:30000", seats_per_row=12)
            services.campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
            for username in DEMO_USERS:  # something in the wallet to buy with
                user = User.objects.get(username=username)
                services.wallet_adjust(user_id=user.pk, amount=100_000, reference=f"demo-topup:{username}")
            self.stdout.write("demo: seat campaign 'concert-seats' (60 seats); demo wallets topped up by 100,000 KRW")

    def _room(self, now) -> None:
        from waitingroom import services as room_services
        from waitingroom.models import WaitingRoom

        room = WaitingRoom.objects.filter(slug="concert-presale-line").first()
        if room is None:
            room = WaitingRoom.objects.create(
                slug="concert-presale-line",
                title="Concert presale line",
                campaign=Campaign.objects.get(slug="concert-presale"),
                max_active=20,
                admit_rate=2,
                opens_at=now,
                status=WaitingRoom.Status.QUEUEING,
            )
            self.stdout.write("demo: waiting room 'concert-presale-line' in front of 'concert-presale'")
        room_services.room_publish(room=room)
