"""A small populated firstcome for the security suites: every kind of object, each owned by `owner`."""

import uuid
from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from coupons import redis as gate
from coupons.models import Campaign, Coupon, ExternalClient, Grant, LedgerEntry, Seat, Wallet
from coupons.seats.services import Hold, seat_hold, seat_map_generate
from coupons.services.campaigns import campaign_publish
from coupons.services.claims import claim_create
from coupons.services.external_clients import external_client_get_or_create
from coupons.services.grants import grant_transfer
from coupons.services.wallets import wallet_adjust
from partners.models import Partner, PartnerAPIKey, WebhookDelivery
from partners.services.keys import partner_key_create
from ranking import periods
from ranking import services as ranking_services
from ranking.models import Board, BoardSnapshot
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CampaignFactory, published_campaign
from tests.waitingroom.factories import published_room
from waitingroom.models import WaitingRoom
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_status

SEAT_PRICE = 30_000


@dataclass
class World:
    owner: User
    other: User
    staff: User  # is_staff without a single model permission
    viewer: User  # is_staff with only the view permissions
    superuser: User
    campaign: Campaign  # open, first come first served; owner holds a succeeded grant
    draft: Campaign
    coupon_campaign: Campaign  # owner holds a coupon
    seat_campaign: Campaign  # owner holds seat A-1
    room_campaign: Campaign  # behind `room`
    room: WaitingRoom  # owner admitted (holds a pass)
    board: Board
    grant: Grant
    coupon: Coupon
    hold: Hold
    access_pass: str
    snapshot: BoardSnapshot
    partner: Partner
    partner_key: PartnerAPIKey
    partner_key_plain: str
    partner_campaign: Campaign  # open, owned by `partner`; its client holds `partner_grant`
    partner_grant: Grant
    external_client: ExternalClient  # a client of `partner`
    webhook_delivery: WebhookDelivery  # an event for `partner`

    def token(self, user: User) -> str:
        return account_services.api_token_issue(user=user)[0]

    @property
    def wallet(self) -> Wallet:
        return Wallet.objects.get(user=self.owner)

    @property
    def ledger_entry(self) -> LedgerEntry:
        return LedgerEntry.objects.filter(wallet__user=self.owner).first()

    @property
    def seat(self) -> Seat:
        return Seat.objects.get(campaign=self.seat_campaign, slot=self.hold.slot)

    @property
    def board_member(self) -> str:
        key = periods.period_key("all", timezone.now())
        return ranking_services.board_top(board=self.board, key=key, limit=1)[0].member


def _staff_with_view_permissions() -> User:
    viewer = UserFactory(is_staff=True)
    group = Group.objects.create(name=f"viewers-{uuid.uuid4().hex[:8]}")
    group.permissions.set(Permission.objects.filter(codename__startswith="view_"))
    viewer.groups.add(group)
    return viewer


def _claimed(campaign: Campaign, user: User) -> str:
    """A claim as committed: the world is built inside the test's transaction, which never commits,
    so the claim's after-commit confirm (it clears the hold's provisional mark, I8) is run here."""
    outcome = claim_create(campaign_id=campaign.pk, user_id=user.pk)
    hold = gate.Hold(outcome.slot, user.pk, outcome.grant_id)
    gate.confirm(campaign_id=campaign.pk, hold=hold, lease_deadline_ms=None, ring_seconds=None)
    return outcome.grant_id


def build_world() -> World:
    owner, other = UserFactory(), UserFactory()
    staff = UserFactory(is_staff=True)
    viewer = _staff_with_view_permissions()
    superuser = UserFactory(is_staff=True, is_superuser=True)

    campaign = published_campaign(quantity=50, amount=10)
    grant_id = _claimed(campaign, owner)
    grant_transfer(grant_id=grant_id, final_attempt=False)
    coupon_campaign = published_campaign(kind=Campaign.Kind.COUPON, quantity=50, amount=1000)
    coupon_grant = _claimed(coupon_campaign, owner)
    grant_transfer(grant_id=coupon_grant, final_attempt=False)

    seat_campaign = CampaignFactory(quantity=1, amount=0)
    seat_map_generate(campaign=seat_campaign, rows=f"A-B:{SEAT_PRICE}", seats_per_row=5)
    campaign_publish(campaign=seat_campaign)
    seat_campaign.refresh_from_db()
    wallet_adjust(user_id=owner.pk, amount=SEAT_PRICE, reference="world-fund")  # a hold needs the seat's price
    hold = seat_hold(campaign_id=seat_campaign.pk, user_id=owner.pk, slot=1, label="A-1")

    room_campaign = published_campaign(quantity=50)
    room = published_room(campaign=room_campaign, admit_rate=50, max_active=50)
    room_join(room_id=room.pk, user_id=owner.pk)
    room_tick(room=room)
    access_pass = room_status(room=room, user_id=owner.pk).access_pass
    assert access_pass

    board, _ = Board.objects.get_or_create(slug="hot", defaults={"title": "Hottest", "metric": Board.Metric.CLAIMS})
    ranking_services.boards_forget()
    ranking_services.board_rebuild(board=board)
    snapshot = BoardSnapshot.objects.create(board=board, period_key="all", taken_at=timezone.now(), entries=[])

    partner = Partner.objects.create(name="Acme", namespace="acme")
    partner_key, partner_key_plain = partner_key_create(partner=partner, name="backend")
    external_client = external_client_get_or_create(namespace=partner.namespace, client_id="client-1")
    partner_campaign = published_campaign(slug="acme-drop", namespace=partner.namespace, quantity=50)
    partner_grant = _claimed(partner_campaign, external_client.user)
    webhook_delivery = WebhookDelivery.objects.create(
        partner=partner, event_type="campaign.closed", payload={}, next_attempt_at=timezone.now()
    )

    return World(
        owner=owner,
        other=other,
        staff=staff,
        viewer=viewer,
        superuser=superuser,
        campaign=campaign,
        draft=CampaignFactory(),
        coupon_campaign=coupon_campaign,
        seat_campaign=seat_campaign,
        room_campaign=room_campaign,
        room=room,
        board=board,
        grant=Grant.objects.get(pk=grant_id),
        coupon=Coupon.objects.get(user=owner),
        hold=hold,
        access_pass=access_pass,
        snapshot=snapshot,
        partner=partner,
        partner_key=partner_key,
        partner_key_plain=partner_key_plain,
        partner_campaign=partner_campaign,
        partner_grant=Grant.objects.get(pk=partner_grant),
        external_client=external_client,
        webhook_delivery=webhook_delivery,
    )
