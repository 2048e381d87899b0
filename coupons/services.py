"""Writes for the coupons app: publishing, the claim, transfers, failure, sweeping, reconcile."""

import contextlib
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from redis.exceptions import LockError, RedisError

from config import clock, metrics
from config import redis as fc_redis
from config.errors import ApplicationError
from config.ratelimit import RateLimited
from coupons import gate_heal
from coupons import redis as gate
from coupons.errors import (
    REJECTIONS,
    CampaignNotFound,
    ChooseSeat,
    ClaimInProgress,
    CouponAlreadyRedeemed,
    CouponExpired,
    CouponNotFound,
    GateUnavailable,
    InvalidTransition,
    PermanentTransferError,
    SoldOut,
    TransientTransferError,
)
from coupons.models import Campaign, Coupon, Grant
from coupons.transfers import TransferBackend, transfer_backend, transfer_many

logger = logging.getLogger(__name__)
Status = Campaign.Status


# --- the gate: Redis state rebuilt from PostgreSQL --------------------------


def _gate_state_of(campaign: Campaign) -> str:
    if campaign.status == Status.CANCELLED:
        return "cancelled"
    if campaign.status == Status.CLOSED:
        return "closed"
    return "live"


def _room_of(campaign: Campaign) -> tuple[str, str]:
    """(room id, room slug) of the waiting room in front of the campaign, or ("", "")."""
    from waitingroom.models import WaitingRoom

    room = WaitingRoom.objects.filter(campaign=campaign).values_list("pk", "slug").first()
    return (str(room[0]), room[1]) if room else ("", "")


def gate_state_build(*, campaign: Campaign) -> gate.GateState:
    """The Redis state a campaign should have, computed from its live grants."""
    live = list(
        Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).values_list("user_id", "slot", "id", "status")
    )
    taken = {slot for _, slot, _, _ in live}
    highest = max(taken, default=0)
    deadline = clock.now_ms() + settings.GRANT_LEASE_SECONDS * 1000
    holds = [gate.Hold(slot, user_id, str(grant_id)) for user_id, slot, grant_id, _ in live]
    room, room_slug = _room_of(campaign)
    chosen = campaign.allocation == Campaign.Allocation.CHOSEN
    return gate.GateState(
        state=_gate_state_of(campaign),
        opens_at_ms=clock.to_ms(campaign.opens_at),
        closes_at_ms=clock.to_ms(campaign.closes_at),
        quantity=campaign.quantity,
        room=room,
        room_slug=room_slug,
        allocation=campaign.allocation,
        rate_limits=campaign.rate_limits_meta(),
        sold_seats=_sold_seats(campaign) if chosen else [],
        next=highest,
        free=[slot for slot in range(1, highest + 1) if slot not in taken],
        holds=holds,
        lease_deadline_ms={
            hold.lease_member: deadline
            for hold, (_, _, _, status) in zip(holds, live, strict=True)
            if status == Grant.Status.PENDING
        },
    )


def campaign_gate_rebuild(*, campaign_id: int, force: bool = False, wait: bool = True) -> bool:
    """Rebuild a campaign's Redis state from PostgreSQL under a lock; claims wait for it.

    Without `force` it does nothing when another process already rebuilt it;
    without `wait` it does nothing while another process holds the lock (it is
    rebuilding). Grants that commit or fail while it runs are applied again
    afterwards (gate_heal.rebuild_catch_up: why that is complete). Returns
    whether it rebuilt.
    """
    lock = gate.rebuild_lock(campaign_id=campaign_id)
    if not lock.acquire(blocking=wait):
        if not wait:
            return False
        raise GateUnavailable(_("The campaign is being restored; try again in a moment."))
    try:
        if not force and gate.gate_exists(campaign_id=campaign_id):
            return False
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None or not campaign.is_published:
            raise CampaignNotFound()
        if campaign.allocation == Campaign.Allocation.CHOSEN:
            _fence_restore(campaign)  # before meta reappears, so no hold gets a small token
        state = gate_state_build(campaign=campaign)
        gate.gate_write(campaign_id=campaign_id, gate=state)
        gate_heal.rebuild_catch_up(campaign_id=campaign_id, written=state)
        gate.slug_remember(campaign.slug, campaign.pk)
        logger.info("gate of campaign %s rebuilt from PostgreSQL", campaign.slug)
        return True
    finally:
        with contextlib.suppress(LockError):  # expired meanwhile; the rebuild is idempotent
            lock.release()


def _sold_seats(campaign: Campaign) -> list[int]:
    from coupons.models import Seat

    return list(Seat.objects.filter(campaign=campaign, status=Seat.Status.SOLD).values_list("slot", flat=True))


def _fence_restore(campaign: Campaign) -> None:
    """Raise the fencing counter above every token that can exist: the largest one
    PostgreSQL recorded, and every token issued before Redis lost its counter
    (tokens grow by one per hold; the clock in microseconds outruns them)."""
    from coupons.models import Seat

    stored = Seat.objects.filter(campaign=campaign).aggregate(m=Max("fence_token"))["m"] or 0
    gate.fence_raise(campaign_id=campaign.pk, at_least=max(stored, int(time.time() * 1_000_000)))


def _gate_meta_args(campaign: Campaign) -> dict:
    room, room_slug = _room_of(campaign)
    return {
        "campaign_id": campaign.pk,
        "state": _gate_state_of(campaign),
        "opens_at_ms": clock.to_ms(campaign.opens_at),
        "closes_at_ms": clock.to_ms(campaign.closes_at),
        "quantity": campaign.quantity,
        "room": room,
        "room_slug": room_slug,
        "allocation": campaign.allocation,
        **campaign.rate_limits_meta(),
    }


def campaign_gate_publish(*, campaign: Campaign) -> None:
    """Staff edited a published campaign (its rate limits, say): its gate gets the new values once
    committed (the status tick republishes every published campaign each second anyway)."""
    if campaign.is_published:
        transaction.on_commit(partial(_gate_meta_publish, campaign))


def campaign_gate_room_set(*, campaign_id: int, room) -> None:
    """A waiting room was put in front of the campaign (or changed): the gate starts asking for passes."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is not None and campaign.is_published:
        _gate_meta_publish(campaign)


def _gate_meta_publish(campaign: Campaign) -> None:
    """Push the campaign's status and window (as PostgreSQL has them now) to its gate.

    Rebuilds a missing gate first; the second update covers a rebuild that read
    the campaign before the change being published committed.
    """
    campaign = Campaign.objects.get(pk=campaign.pk)
    if gate.meta_set(**_gate_meta_args(campaign)):
        return
    campaign_gate_rebuild(campaign_id=campaign.pk)
    gate.meta_set(**_gate_meta_args(campaign))


# --- campaign lifecycle -----------------------------------------------------


def _status_for_window(campaign: Campaign, now: datetime) -> str:
    if now >= campaign.closes_at:
        return Status.CLOSED
    return Status.OPEN if now >= campaign.opens_at else Status.SCHEDULED


@transaction.atomic
def campaign_publish(*, campaign: Campaign, open_now: bool = False) -> Campaign:
    """draft → scheduled/open: the terms freeze and the gate appears in Redis."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Status.DRAFT:
        raise InvalidTransition(_("Only a draft can be published."))
    now = timezone.now()
    if open_now:
        campaign.opens_at = min(campaign.opens_at, now)
    if campaign.allocation == Campaign.Allocation.CHOSEN and campaign.seats.count() != campaign.quantity:
        raise InvalidTransition(_("Generate the seat map first: a chosen-seat campaign needs one seat per slot."))
    campaign.full_clean()
    campaign.status = _status_for_window(campaign, now)
    campaign.published_at = now
    campaign.save()
    transaction.on_commit(partial(_gate_meta_publish, campaign))
    return campaign


@transaction.atomic
def campaign_open_now(*, campaign: Campaign) -> Campaign:
    """Open a draft or scheduled campaign immediately (moves opens_at to now)."""
    if campaign.status == Status.DRAFT:
        return campaign_publish(campaign=campaign, open_now=True)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Status.SCHEDULED:
        raise InvalidTransition(_("Only a draft or scheduled campaign can be opened now."))
    campaign.opens_at = timezone.now()
    campaign.status = Status.OPEN
    campaign.save(update_fields=["opens_at", "status", "updated_at"])
    transaction.on_commit(partial(_gate_meta_publish, campaign))
    return campaign


def _campaign_end(campaign: Campaign, status: str) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in (Status.DRAFT, Status.CANCELLED) or campaign.status == status:
            raise InvalidTransition(
                _("A campaign that is %(current)s cannot become %(target)s.")
                % {"current": campaign.get_status_display(), "target": Status(status).label}
            )
        campaign.status = status
        campaign.save(update_fields=["status", "updated_at"])
    _gate_meta_publish(campaign)
    return campaign


def campaign_close(*, campaign: Campaign) -> Campaign:
    """Stop claims now; granted slots are honoured."""
    return _campaign_end(campaign, Status.CLOSED)


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop claims for good; grants already made are still delivered."""
    return _campaign_end(campaign, Status.CANCELLED)


def campaign_status_refresh(*, now: datetime | None = None) -> int:
    """Move displayed statuses with the window and the stock; returns how many changed.

    It also re-publishes every active campaign's meta to its gate (rebuilding a
    missing gate), so a status change whose Redis update was lost heals within
    a tick.
    """
    now = now or timezone.now()
    changed = Campaign.objects.filter(status=Status.SCHEDULED, opens_at__lte=now, closes_at__gt=now).update(
        status=Status.OPEN, updated_at=now
    )
    changed += Campaign.objects.filter(
        status__in=[Status.SCHEDULED, Status.OPEN, Status.SOLD_OUT], closes_at__lte=now
    ).update(status=Status.CLOSED, updated_at=now)
    for campaign in Campaign.objects.filter(status__in=[Status.OPEN, Status.SOLD_OUT]):
        live = Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count()
        if campaign.status == Status.OPEN and live >= campaign.quantity:
            changed += _mark_sold_out(campaign_id=campaign.pk, now=now)
        elif campaign.status == Status.SOLD_OUT and live < campaign.quantity:
            # Back to open only when the gate really has a free slot again (a grant
            # failed), not while the last claims' inserts are still in flight.
            remaining = gate.remaining(campaign_id=campaign.pk)
            if remaining is not None and remaining > 0:
                changed += Campaign.objects.filter(pk=campaign.pk, status=Status.SOLD_OUT).update(
                    status=Status.OPEN, updated_at=now
                )
    for campaign in Campaign.objects.filter(status__in=Campaign.PUBLISHED, closes_at__gt=now - timedelta(days=1)):
        try:
            _gate_meta_publish(campaign)
        except (RedisError, GateUnavailable, CampaignNotFound) as exc:
            logger.warning("could not publish the gate of %s: %s", campaign.slug, exc)
    return changed


def _mark_sold_out(*, campaign_id: int, now: datetime) -> int:
    """open/scheduled → sold out; the first sell-out time is kept and ranked once."""
    first = Campaign.objects.filter(
        pk=campaign_id, status__in=[Status.OPEN, Status.SCHEDULED], sold_out_at__isnull=True
    ).update(status=Status.SOLD_OUT, sold_out_at=now, updated_at=now)
    if first:
        opens_at = Campaign.objects.filter(pk=campaign_id).values_list("opens_at", flat=True).first()
        seconds = max(0, int((now - opens_at).total_seconds()))
        _ranking_quietly(metric="sell_out_seconds", member=campaign_id, at=now, amount=seconds, mode="set")
        return first
    return Campaign.objects.filter(pk=campaign_id, status__in=[Status.OPEN, Status.SCHEDULED]).update(
        status=Status.SOLD_OUT, updated_at=now
    )


# --- the claim (hot path) ---------------------------------------------------


@dataclass(frozen=True)
class ClaimOutcome:
    created: bool  # False: the user already held this grant (idempotent repeat)
    grant_id: str
    slot: int
    remaining: int


def _transfer_enqueue(grant_id: str) -> None:
    from coupons.tasks import grant_transfer_task

    try:
        grant_transfer_task.delay(grant_id)
    except Exception:  # noqa: BLE001 - the grant row is durable; the sweeper re-drives it
        logger.warning("could not enqueue the transfer of grant %s; the sweeper will re-drive it", grant_id)


def _drain_enqueue(campaign_id: int) -> bool:
    from coupons.tasks import grant_drain_task

    try:
        # A short delay lets the claims of a burst gather behind one ring (the
        # doorbell stays set until the drain starts, so they do not publish):
        # without it a steady trickle of claims would cost one message, one
        # task and one commit each.
        grant_drain_task.apply_async((campaign_id,), countdown=settings.GRANT_DRAIN_DELAY_SECONDS)
    except Exception:  # noqa: BLE001 - the grant rows are durable; the sweeper starts a drain
        logger.warning("could not enqueue a drain of campaign %s; the sweeper will start one", campaign_id)
        return False
    return True


def access_pass_fit(*, campaign_id: int, user_id: int, access_pass: str) -> str:
    """How a pass sent with an action on this campaign fits it (one HGET; no pass is used up here).

    "ours": a genuine pass of this user for the room in front of the campaign;
    "none": no room is in front, the pass is ignored; "foreign": the user's pass
    of another room, ignored (it stays valid where its room stands); "invalid":
    forged or someone else's.
    """
    from waitingroom import services as room_services

    room = gate.room_of(campaign_id=campaign_id)
    if room is None:
        campaign_gate_rebuild(campaign_id=campaign_id)
        room = gate.room_of(campaign_id=campaign_id) or ""
    if not room:
        return "none"
    pass_room = room_services.pass_room(token=access_pass, user_id=user_id)
    if pass_room is None:
        return "invalid"
    return "ours" if str(pass_room) == room else "foreign"


def claim_create(
    *,
    campaign_id: int,
    user_id: int,
    access_pass: str | None = None,
    now_ms: int | None = None,
    client_ip: str | None = None,
) -> ClaimOutcome:
    """Take a slot for the user in Redis, then record the pending grant in PostgreSQL.

    Rejections (rate limited, sold out, not open, closed, cancelled, no admission)
    and repeats are answered by Redis alone; every call runs the claim script,
    which spends a token of the user's and of `client_ip`'s bucket first (None:
    no per-IP limit), whatever the pass. Only an accepted claim writes to the
    database, and the answer is given only after that write committed (I4); a
    repeat never names a grant whose row is not known to be committed (I8).
    A campaign behind a waiting room needs an access pass of that room, used up
    here (W4); if the claim then fails on our side, the user's place is given
    back. A pass is used up only by the campaign its room protects: sent with any
    other claim it is ignored.
    """
    claim = partial(_claim, campaign_id=campaign_id, user_id=user_id, now_ms=now_ms, client_ip=client_ip)
    fit = access_pass_fit(campaign_id=campaign_id, user_id=user_id, access_pass=access_pass) if access_pass else "none"
    if fit == "none":
        return claim(room_id=None)
    from waitingroom import services as room_services
    from waitingroom.errors import AdmissionRequired, PassInvalid

    refusal = PassInvalid() if fit == "invalid" else None
    if fit == "ours":
        try:
            consumed = room_services.pass_consume(token=access_pass, user_id=user_id, now_ms=now_ms)
        except PassInvalid as exc:
            refusal = exc  # a second click on "Claim now" carries the pass the first click used
        else:
            return _claim_with_pass(claim, consumed)
    # No usable pass: the script still answers a user who already holds a grant.
    # A refused pass says more than "admission required" (another room's pass: that is the answer).
    try:
        return claim(room_id=None)
    except AdmissionRequired:
        if refusal is None:
            raise
        raise refusal from None


def _claim_with_pass(claim: partial, consumed) -> ClaimOutcome:
    from waitingroom import services as room_services

    try:
        outcome = claim(room_id=consumed.room_id)
    except SoldOut:
        room_services.pass_settle(consumed=consumed)
        raise  # the turn is over: nothing left to use it on
    except (ApplicationError, RedisError, DatabaseError):
        # rate limited, not open yet, in progress, a store error: the user keeps their turn
        room_services.pass_restore(consumed=consumed)
        raise
    room_services.pass_settle(consumed=consumed)  # the slot is taken: the room may count it off (W6)
    return outcome


class _TryAgain(Exception):
    """An attempt found its slot owned in PostgreSQL (the gate was behind and is repaired now), or met a
    first click whose claim fell through: the user gets one more attempt."""


def _claim(
    *, campaign_id: int, user_id: int, room_id: int | None, now_ms: int | None, client_ip: str | None
) -> ClaimOutcome:
    """At most two attempts (each one claim script call, so each spends a token); see _TryAgain."""
    attempt = partial(
        _claim_attempt, campaign_id=campaign_id, user_id=user_id, room_id=room_id, now_ms=now_ms, client_ip=client_ip
    )
    try:
        return attempt(last=False)
    except _TryAgain:
        return attempt(last=True)


def _claim_attempt(
    *, campaign_id: int, user_id: int, room_id: int | None, now_ms: int | None, client_ip: str | None, last: bool
) -> ClaimOutcome:
    grant_id = str(uuid.uuid4())
    lease_ms = settings.GRANT_LEASE_SECONDS * 1000
    claim = partial(
        gate.claim,
        campaign_id=campaign_id,
        user_id=user_id,
        grant_id=grant_id,
        lease_ms=lease_ms,
        now_ms=now_ms,
        room_id=room_id,
        client_ip=client_ip,
    )
    result = claim()
    if result.outcome == "missing":
        campaign_gate_rebuild(campaign_id=campaign_id)
        result = claim()
    if result.outcome == "in_flight":
        return _claim_in_flight(campaign_id=campaign_id, user_id=user_id, result=result, last=last)
    if result.outcome == "rate_limited":
        raise RateLimited.after(result.slot)
    if result.outcome in REJECTIONS:
        raise REJECTIONS[result.outcome]()
    if result.outcome == "choose_seat":
        raise ChooseSeat()
    if result.outcome == "admission_required":
        from waitingroom.errors import AdmissionRequired
        from waitingroom.services import room_url

        raise AdmissionRequired(extra={"room_url": room_url(slug=result.grant_id)})
    if result.outcome == "duplicate":
        return ClaimOutcome(created=False, grant_id=result.grant_id, slot=result.slot, remaining=result.remaining)
    if result.outcome != "accepted":
        raise GateUnavailable()

    hold = gate.Hold(result.slot, user_id, grant_id)
    claimed_at = timezone.now()
    # Outside a transaction the INSERT commits on its own: one round trip, not
    # BEGIN/INSERT/COMMIT (the WAL flush of the commit is the claim's biggest
    # wait). Inside a caller's transaction a savepoint keeps a constraint
    # violation from breaking it.
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else contextlib.nullcontext():
            Grant.objects.create(
                id=grant_id, campaign_id=campaign_id, user_id=user_id, slot=result.slot, created_at=claimed_at
            )
    except IntegrityError as exc:
        return _claim_conflict(campaign_id=campaign_id, hold=hold, error=exc, remaining=result.remaining, last=last)
    except DatabaseError as exc:
        logger.warning("grant insert failed, releasing slot %s of campaign %s: %s", hold.slot, campaign_id, exc)
        _release_quietly(campaign_id=campaign_id, hold=hold, reuse_slot=True)
        _stats_correct_quietly(campaign_id=campaign_id, heard="store_unavailable")
        raise GateUnavailable() from exc

    # Once committed (at once, unless a caller's transaction is still open):
    # clear the hold's provisional mark, repair the gate if Redis lost this hold
    # meanwhile (normally a no-op), and ring for a drain that delivers the grant.
    # Ringing before the commit could start a drain that does not see the row yet.
    transaction.on_commit(partial(_confirm_quietly, campaign_id=campaign_id, hold=hold, pending=True))
    if result.remaining == 0:
        _mark_sold_out(campaign_id=campaign_id, now=timezone.now())
    return ClaimOutcome(created=True, grant_id=grant_id, slot=result.slot, remaining=result.remaining)


def _claim_in_flight(*, campaign_id: int, user_id: int, result: gate.ClaimResult, last: bool) -> ClaimOutcome:
    """A repeat click met the user's hold before its grant row was known to be committed (I8).

    It answers that grant once the commit is known (waiting up to
    CLAIM_IN_FLIGHT_WAIT_SECONDS), claims afresh if the first click's claim fell
    through, and otherwise answers 409 claim_in_progress with Retry-After.
    """
    hold = gate.Hold(result.slot, user_id, result.grant_id)
    wait = 0.0 if last else settings.CLAIM_IN_FLIGHT_WAIT_SECONDS
    settled = gate_heal.hold_settle(campaign_id=campaign_id, hold=hold, wait_seconds=wait)
    if settled == "gone" and not last:
        raise _TryAgain()
    committed = settled == "committed"
    _stats_correct_quietly(
        campaign_id=campaign_id, counted=None, heard="duplicate" if committed else "claim_in_progress"
    )
    if not committed:
        raise ClaimInProgress.after(1)
    return ClaimOutcome(created=False, grant_id=hold.grant_id, slot=hold.slot, remaining=result.remaining)


def _constraint_of(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", "") or ""


def _claim_conflict(
    *, campaign_id: int, hold: gate.Hold, error: IntegrityError, remaining: int, last: bool
) -> ClaimOutcome:
    """Redis and PostgreSQL disagree (only after Redis lost state): PostgreSQL wins and the gate is repaired.

    A conflict is proof that Redis is behind PostgreSQL (a rebuild raced a
    commit, a failover lost the last writes): when the row it met had lost its
    hold, the whole gate is rebuilt at once (unless another process is at it).
    """
    constraint = _constraint_of(error)
    if constraint == "grant_one_live_per_user":
        # The user already has a live grant Redis forgot: answer with it.
        _release_quietly(campaign_id=campaign_id, hold=hold, reuse_slot=True)
        existing = Grant.objects.filter(campaign_id=campaign_id, user_id=hold.user_id, status__in=Grant.LIVE).first()
        if existing is not None:
            behind = _confirm_quietly(
                campaign_id=campaign_id,
                hold=gate.Hold(existing.slot, existing.user_id, str(existing.id)),
                pending=existing.status == Grant.Status.PENDING,
            )
            _gate_behind(campaign_id=campaign_id, behind=behind)
            _stats_correct_quietly(campaign_id=campaign_id, heard="duplicate")
            return ClaimOutcome(created=False, grant_id=str(existing.id), slot=existing.slot, remaining=remaining)
    elif constraint == "grant_one_live_per_slot":
        # Another live grant owns this slot: the slot leaves the pool, its owner gets its hold back,
        # and this user tries once more on the repaired gate.
        _release_quietly(campaign_id=campaign_id, hold=hold, reuse_slot=False)
        _gate_behind(
            campaign_id=campaign_id, behind=gate_heal.slot_owner_restore(campaign_id=campaign_id, slot=hold.slot)
        )
        if not last:
            _stats_correct_quietly(campaign_id=campaign_id, heard=None)
            raise _TryAgain()
    else:
        _release_quietly(campaign_id=campaign_id, hold=hold, reuse_slot=True)
    logger.warning("claim conflict on campaign %s (%s)", campaign_id, constraint or error)
    _stats_correct_quietly(campaign_id=campaign_id, heard="store_unavailable")
    raise GateUnavailable()


def _gate_behind(*, campaign_id: int, behind: bool) -> None:
    """A committed grant had lost its hold: Redis may have lost more (a failover), so rebuild the gate now."""
    if not behind:
        return
    logger.warning("gate of campaign %s was behind PostgreSQL; rebuilding it", campaign_id)
    try:
        campaign_gate_rebuild(campaign_id=campaign_id, force=True, wait=False)
    except (RedisError, DatabaseError) as exc:  # the periodic heal (campaign_gates_heal) tries again
        logger.warning("could not rebuild the gate of campaign %s: %s", campaign_id, exc)


def _confirm_quietly(*, campaign_id: int, hold: gate.Hold, pending: bool) -> bool:
    """Make the gate agree with a committed live grant; a pending one also asks for a drain.

    Only the claim that set the doorbell publishes (see grant_drain). When Redis
    cannot be asked, publish anyway: a drain too many finds nothing to do.
    Returns whether Redis had lost the hold.
    """
    deadline = clock.now_ms() + settings.GRANT_LEASE_SECONDS * 1000 if pending else None
    ring_seconds = settings.GRANT_DOORBELL_SECONDS if pending else None
    try:
        confirmed = gate.confirm(
            campaign_id=campaign_id, hold=hold, lease_deadline_ms=deadline, ring_seconds=ring_seconds
        )
    except RedisError as exc:
        logger.warning("could not confirm slot %s of campaign %s: %s", hold.slot, campaign_id, exc)
        if pending:
            _drain_enqueue(campaign_id)
        return False
    if confirmed.repaired:
        logger.warning("gate of campaign %s had lost slot %s; restored", campaign_id, hold.slot)
    if confirmed.rang and not _drain_enqueue(campaign_id):
        # Nobody will answer this ring: let the next claim ring again.
        with contextlib.suppress(RedisError):
            gate.doorbell_clear(campaign_id=campaign_id)
    return confirmed.repaired


def _stats_correct_quietly(*, campaign_id: int, heard: str | None, counted: str | None = "accepted") -> None:
    with contextlib.suppress(RedisError):  # a counter: never worth failing the answer for
        gate.stats_correct(campaign_id=campaign_id, counted=counted, heard=heard)


def _release_quietly(*, campaign_id: int, hold: gate.Hold, reuse_slot: bool) -> None:
    """Release a hold; if Redis is down too, the sweeper finds the expired lease later."""
    try:
        gate.release(campaign_id=campaign_id, hold=hold, reuse_slot=reuse_slot)
    except RedisError as exc:
        logger.warning("could not release slot %s of campaign %s: %s", hold.slot, campaign_id, exc)


# --- transfers and failure --------------------------------------------------


def grant_transfer(*, grant_id: str, final_attempt: bool, backend: TransferBackend | None = None) -> str:
    """Deliver a pending grant once; returns the grant's status afterwards.

    Idempotent: a grant that is no longer pending is left alone, and the
    backend's delivery runs in the same transaction that marks it succeeded.
    """
    backend = backend or transfer_backend()
    try:
        with transaction.atomic():
            grant = Grant.objects.select_for_update(of=("self",)).select_related("campaign").filter(pk=grant_id).first()
            if grant is None:
                return "missing"
            if grant.status != Grant.Status.PENDING:
                return grant.status
            backend.transfer(grant=grant)
            grant.status = Grant.Status.SUCCEEDED
            grant.attempts += 1
            grant.last_error = ""
            grant.completed_at = timezone.now()
            grant.save(update_fields=["status", "attempts", "last_error", "completed_at", "updated_at"])
    except TransientTransferError as exc:
        if final_attempt:
            if grant_fail(grant_id=grant_id, reason=f"retries exhausted: {exc}"):
                _failed_settled(grant, kind="exhausted")
            return Grant.Status.FAILED
        _grant_note_attempt(grant_id=grant_id, error=str(exc))
        metrics.grants_settled_now(latencies=[], succeeded=0, failures=Counter(transient=1))
        raise
    except PermanentTransferError as exc:
        if grant_fail(grant_id=grant_id, reason=str(exc)):
            _failed_settled(grant, kind="permanent")
        return Grant.Status.FAILED

    with contextlib.suppress(RedisError):  # the sweeper drops leases of succeeded grants
        gate.lease_drop(campaign_id=grant.campaign_id, hold=gate.Hold(grant.slot, grant.user_id, str(grant.id)))
    _ranking_settled(grant=grant, succeeded=True)
    latency = (grant.completed_at - grant.created_at).total_seconds()
    metrics.grants_settled_now(latencies=[latency], succeeded=1, failures=Counter())
    return Grant.Status.SUCCEEDED


def _ranking_settled(*, grant: Grant, succeeded: bool) -> None:
    """Count a settled grant on the leaderboards, off the claim's hot path.

    The claim counts at the moment it was accepted (created_at), so the boards
    read the same as if it had been counted in the request; users served count
    when the grant succeeded.
    """
    from ranking import services as ranking

    try:
        batch = fc_redis.ScriptBatch()
        ranking.event_record(metric="claims", member=grant.campaign_id, at=grant.created_at, batch=batch)
        if succeeded:
            ranking.event_record(metric="users_served", member=grant.campaign_id, at=grant.completed_at, batch=batch)
        for reply in batch.execute():
            if isinstance(reply, Exception):
                raise reply
    except Exception as exc:  # noqa: BLE001 - never let a leaderboard break a grant; rebuild fixes it
        logger.warning("ranking update for grant %s failed: %s", grant.pk, exc)


def _ranking_quietly(**event) -> None:
    """Rankings are rebuildable from PostgreSQL: a failed update is logged, never raised."""
    from ranking import services as ranking

    try:
        ranking.event_record(**event)
    except Exception as exc:  # noqa: BLE001 - never let a leaderboard break a grant
        logger.warning("ranking update %s failed: %s", event, exc)


def _grant_note_attempt(*, grant_id: str, error: str) -> None:
    Grant.objects.filter(pk=grant_id, status=Grant.Status.PENDING).update(
        attempts=F("attempts") + 1, last_error=error[:1000], updated_at=timezone.now()
    )


def grant_fail(*, grant_id: str, reason: str) -> bool:
    """pending → failed, then give the slot back if this grant still holds it."""
    with transaction.atomic():
        grant = Grant.objects.select_for_update().filter(pk=grant_id, status=Grant.Status.PENDING).first()
        if grant is None:
            return False
        Grant.objects.filter(pk=grant.pk).update(
            status=Grant.Status.FAILED,
            attempts=F("attempts") + 1,
            last_error=reason[:1000],
            completed_at=timezone.now(),
            updated_at=timezone.now(),
        )
    _release_quietly(
        campaign_id=grant.campaign_id, hold=gate.Hold(grant.slot, grant.user_id, str(grant.id)), reuse_slot=True
    )
    _ranking_settled(grant=grant, succeeded=False)
    logger.info("grant %s failed: %s", grant_id, reason)
    return True


# --- the drain: a campaign's pending grants, many per transaction ----------------
#
# A committed claim rings the campaign's doorbell (confirm.lua: SET NX EX, after
# the commit) and publishes grant_drain_task only if its SET created the key; a
# drain that took a full batch rings the same way, to get an idle worker to
# help. A drain deletes the doorbell, then selects pending grants batch after
# batch (FOR UPDATE SKIP LOCKED, so concurrent drains never share a grant) until
# a select comes back short. While the key exists, a drain is asked for and has
# not started: so at most one such message waits, however many claims arrive.
#
# Why no committed claim is left behind. Take a claim C that commits at tc and
# rings at ts > tc.
# - C's SET created the key: C publishes a drain, which starts after ts and so
#   selects after C's commit.
# - The key existed at ts: the last SET before ts, at t0, was a ring R, and R
#   published a drain D (a ring that cannot publish deletes the key again, so it
#   is not the last SET). Nothing deleted the key in (t0, ts], or it would not
#   exist at ts; D is published after t0, so D's delete comes after ts, and D's
#   selects after its delete: D selects after C's commit.
# - A drain running when C commits either meets C's row in a later select or
#   made its last select before tc; its delete came before that, so C's ring is
#   one of the two cases above.
# A select "meets" the row when it returns it or skips it because another
# transaction holds it locked: a drain or a transfer, which delivers it or, if
# it dies, rolls back while its message is redelivered (acks_late).
# What the argument cannot cover, the sweeper does (a drain for pending grants
# older than GRANT_DRAIN_SWEEP_AFTER_SECONDS): a process dying between its ring
# and its publish, a delete or a ring lost to a Redis error, a Redis flush that
# took queued messages. The key expires after GRANT_DOORBELL_SECONDS, so such a
# loss also ends with the next claim's ring.


@dataclass
class DrainReport:
    batches: int = 0
    succeeded: int = 0
    failed: int = 0
    retrying: int = 0  # handed to the per-grant retry chain (grant_transfer_task)
    helpers: int = 0  # drains this one asked for, to share a backlog with idle workers


@dataclass
class _BatchOutcome:
    taken: int = 0
    succeeded: list[Grant] = field(default_factory=list)
    failed: list[Grant] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # grant id -> why it failed or retries
    failures: Counter[str] = field(default_factory=Counter)  # transfer failures by kind, for the metrics
    completed_at: datetime | None = None


def grant_drain(
    *,
    campaign_id: int,
    batch_size: int | None = None,
    budget_seconds: float | None = None,
    backend: TransferBackend | None = None,
) -> DrainReport:
    """Deliver the campaign's untried pending grants, one transaction per batch, until none is left.

    Each grant keeps its own outcome: delivered ones succeed together, a
    permanent refusal fails that grant alone (its slot goes back), a transient
    one hands that grant to the per-grant retry chain.

    After a full batch the drain rings the doorbell itself: if no drain is asked
    for yet, it publishes one, so an idle worker joins in on a backlog (SKIP
    LOCKED shares it out) and at most one such message waits at any time. After
    the time budget a drain with work left returns, leaving the rest to that
    drain, so one hot campaign does not keep a worker from every other task.
    """
    size = batch_size or settings.GRANT_DRAIN_BATCH
    budget = settings.GRANT_DRAIN_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    backend = backend or transfer_backend()
    report = DrainReport()
    # Before the first select: see the argument above.
    with contextlib.suppress(RedisError):  # then the key expires and the sweeper covers the gap
        gate.doorbell_clear(campaign_id=campaign_id)
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return report
    deadline = time.monotonic() + budget
    while True:
        outcome = _drain_batch(campaign=campaign, size=size, backend=backend)
        if not outcome.taken:
            return report
        full = outcome.taken >= size
        report.batches += 1
        report.succeeded += len(outcome.succeeded)
        report.failed += len(outcome.failed)
        report.retrying += len(outcome.retrying)
        queued = _drain_settle(campaign_id=campaign_id, outcome=outcome, ring=full)
        if queued is True:
            report.helpers += 1
        if not full:
            return report  # a short select took every grant no other transaction holds
        if time.monotonic() >= deadline:
            if queued is None:  # Redis did not answer the ring: ask for a successor directly
                _drain_enqueue(campaign_id)
            return report


def _drain_batch(*, campaign: Campaign, size: int, backend: TransferBackend) -> _BatchOutcome:
    """One transaction: lock up to `size` pending grants, deliver them, record each outcome."""
    outcome = _BatchOutcome()
    grant_ids: list[str] = []
    try:
        with transaction.atomic():
            grants = list(
                Grant.objects.select_for_update(skip_locked=True)
                .filter(campaign_id=campaign.pk, status=Grant.Status.PENDING, attempts=0)
                .order_by("created_at")[:size]
            )
            grant_ids = [str(g.pk) for g in grants]
            outcome.taken = len(grants)
            if not grants:
                return outcome
            for grant in grants:
                grant.campaign = campaign  # terms are frozen once published: one read serves the batch
            results = transfer_many(backend, grants)
            now = timezone.now()
            outcome.completed_at = now
            errors: dict[tuple[str, str], list] = {}
            for grant in grants:
                error = results[grant.pk]
                if error is None:
                    outcome.succeeded.append(grant)
                    continue
                reason = str(error)
                final = isinstance(error, PermanentTransferError)
                kind = "permanent" if final else "transient"
                if not final and settings.GRANT_MAX_RETRIES < 1:  # no retries configured: this was the last try
                    final, reason, kind = True, f"retries exhausted: {error}", "exhausted"
                outcome.failures[kind] += 1
                if final:
                    outcome.failed.append(grant)
                else:
                    outcome.retrying.append(str(grant.pk))
                outcome.errors[str(grant.pk)] = reason
                errors.setdefault(("failed" if final else "retrying", reason[:1000]), []).append(grant.pk)
            if outcome.succeeded:
                Grant.objects.filter(pk__in=[g.pk for g in outcome.succeeded]).update(
                    status=Grant.Status.SUCCEEDED,
                    attempts=F("attempts") + 1,
                    last_error="",
                    completed_at=now,
                    updated_at=now,
                )
            for (kind, message), ids in errors.items():
                changes = {"attempts": F("attempts") + 1, "last_error": message, "updated_at": now}
                if kind == "failed":
                    changes |= {"status": Grant.Status.FAILED, "completed_at": now}
                Grant.objects.filter(pk__in=ids).update(**changes)
    except (OperationalError, InterfaceError):
        raise  # the database is away: the grants stay pending, the task retries the drain
    except Exception as exc:
        if not grant_ids:
            raise
        # Something no backend should raise (a bug, a constraint a pending grant
        # cannot meet): the batch rolled back whole. Its grants go the per-grant
        # way, so one bad grant holds back no other.
        logger.exception("drain batch of campaign %s failed; %d grants go one by one", campaign.pk, len(grant_ids))
        Grant.objects.filter(pk__in=grant_ids, status=Grant.Status.PENDING, attempts=0).update(
            attempts=F("attempts") + 1, last_error=f"drain batch failed: {exc!r}"[:1000], updated_at=timezone.now()
        )
        return _BatchOutcome(taken=len(grant_ids), retrying=grant_ids)
    for grant in outcome.failed:
        logger.info("grant %s failed: %s", grant.pk, outcome.errors[str(grant.pk)])
    return outcome


def _drain_settle(*, campaign_id: int, outcome: _BatchOutcome, ring: bool) -> bool | None:
    """After the batch committed: one Redis round trip for its leases, released slots,
    leaderboard counts and (with `ring`) the doorbell, then the messages it calls for.

    Returns whether the ring published a drain: True, False (one was already asked
    for, or `ring` is off) or None (Redis did not answer). Nothing here is needed
    for correctness right away: the sweeper drops leases and releases slots that
    outlive their grants.
    """
    batch = fc_redis.ScriptBatch()
    if ring:
        gate.doorbell_ring(campaign_id=campaign_id, seconds=settings.GRANT_DOORBELL_SECONDS, batch=batch)
    gate.leases_drop(
        campaign_id=campaign_id, holds=[gate.Hold(g.slot, g.user_id, str(g.pk)) for g in outcome.succeeded], batch=batch
    )
    for grant in outcome.failed:
        gate.release(
            campaign_id=campaign_id,
            hold=gate.Hold(grant.slot, grant.user_id, str(grant.pk)),
            reuse_slot=True,
            batch=batch,
        )
    _ranking_settled_many(campaign_id=campaign_id, outcome=outcome, batch=batch)
    settled = [*outcome.succeeded, *outcome.failed]
    metrics.grants_settled(
        batch=batch,
        latencies=[(outcome.completed_at - grant.created_at).total_seconds() for grant in settled],
        succeeded=len(outcome.succeeded),
        failures=outcome.failures,
    )
    rang: bool | None = None if ring else False
    try:
        replies = batch.execute()
    except RedisError as exc:
        logger.warning("could not settle a drain batch of campaign %s in Redis: %s", campaign_id, exc)
    else:
        for reply in replies:
            if isinstance(reply, Exception):
                logger.warning("settling a drain batch of campaign %s in Redis: %s", campaign_id, reply)
        if ring and not isinstance(replies[0], Exception):
            rang = bool(replies[0])
    for grant_id in outcome.retrying:
        _transfer_retry_enqueue(grant_id)
    if rang and not _drain_enqueue(campaign_id):
        with contextlib.suppress(RedisError):  # nobody answers this ring: let the next one ring again
            gate.doorbell_clear(campaign_id=campaign_id)
        return None
    return rang


def _failed_settled(grant: Grant, *, kind: str) -> None:
    latency = (timezone.now() - grant.created_at).total_seconds()
    metrics.grants_settled_now(latencies=[latency], succeeded=0, failures=Counter({kind: 1}))


def _ranking_settled_many(*, campaign_id: int, outcome: _BatchOutcome, batch: fc_redis.ScriptBatch) -> None:
    """_ranking_settled for a whole batch in a few script calls with the same result.

    Boards keep whole seconds (the tie-break is the latest second seen), so the
    claims of one second count as one increment by their number.
    """
    from ranking import redis as rank_redis
    from ranking import services as ranking

    try:
        claims: dict[int, tuple[datetime, int]] = {}
        for grant in (*outcome.succeeded, *outcome.failed):
            second = rank_redis.seconds_since_epoch(grant.created_at)
            at, count = claims.get(second, (grant.created_at, 0))
            claims[second] = (max(at, grant.created_at), count + 1)
        for at, count in claims.values():
            ranking.event_record(metric="claims", member=campaign_id, at=at, amount=count, batch=batch)
        if outcome.succeeded:
            served = len(outcome.succeeded)
            ranking.event_record(
                metric="users_served", member=campaign_id, at=outcome.completed_at, amount=served, batch=batch
            )
    except Exception as exc:  # noqa: BLE001 - never let a leaderboard break a grant; rebuild fixes it
        logger.warning("ranking update for a drain batch of campaign %s failed: %s", campaign_id, exc)


def _transfer_retry_enqueue(grant_id: str) -> None:
    """Hand a grant the drain tried once to the per-grant chain, as its first retry.

    The message carries retries=1 and waits the backoff Celery would have chosen,
    so the grant gets the same number of attempts and the same spacing as a
    grant that started in grant_transfer_task.
    """
    from celery.utils.time import get_exponential_backoff_interval

    from coupons.tasks import grant_transfer_task

    countdown = get_exponential_backoff_interval(
        factor=1, retries=0, maximum=settings.GRANT_RETRY_BACKOFF_MAX, full_jitter=True
    )
    try:
        grant_transfer_task.apply_async((grant_id,), countdown=countdown, retries=1)
    except Exception:  # noqa: BLE001 - the grant is pending and tried: the sweeper re-drives it
        logger.warning("could not hand grant %s to its retries; the sweeper will re-drive it", grant_id)


# --- recovery: the sweeper and reconcile ------------------------------------


@dataclass
class SweepReport:
    drains_started: int = 0
    redriven: int = 0
    leases_dropped: int = 0
    leases_extended: int = 0
    released: int = 0


def grant_redrive(*, grant_ids: list[str]) -> int:
    """Enqueue the transfer again (safe: transfers are idempotent) and mark the grants touched."""
    if not grant_ids:
        return 0
    Grant.objects.filter(pk__in=grant_ids, status=Grant.Status.PENDING).update(updated_at=timezone.now())
    for grant_id in grant_ids:
        _transfer_enqueue(str(grant_id))
    return len(grant_ids)


def grant_sweep(*, now: datetime | None = None, batch: int = 1000) -> SweepReport:
    """Start drains nobody asked for, re-drive stuck pending grants, and settle leases
    that outlived their deadline."""
    now = now or timezone.now()
    report = SweepReport()
    # Untried grants a drain should have taken by now (its ring or message was
    # lost, or its worker died): one drain per campaign. A drain already busy
    # with them makes the extra one skip its locked rows and end at once.
    waiting_since = now - timedelta(seconds=settings.GRANT_DRAIN_SWEEP_AFTER_SECONDS)
    waiting = (
        Grant.objects.filter(status=Grant.Status.PENDING, attempts=0, created_at__lt=waiting_since)
        .order_by()
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    report.drains_started = sum(_drain_enqueue(campaign_id) for campaign_id in waiting)
    # Grants in the per-grant retry chain whose message was lost (and, as a last
    # resort, untried ones no drain delivered for that long) go one by one.
    stuck_before = now - timedelta(seconds=settings.GRANT_STUCK_AFTER_SECONDS)
    stuck = list(
        Grant.objects.filter(status=Grant.Status.PENDING, updated_at__lt=stuck_before).values_list("id", flat=True)[
            :batch
        ]
    )
    report.redriven = grant_redrive(grant_ids=[str(g) for g in stuck])

    recent = now - timedelta(days=1)
    campaign_ids = Campaign.objects.filter(status__in=Campaign.PUBLISHED, closes_at__gt=recent).values_list(
        "id", flat=True
    )
    extend_to = clock.to_ms(now) + settings.GRANT_LEASE_SECONDS * 1000
    for campaign_id in campaign_ids:
        holds = gate.leases_expired(campaign_id=campaign_id, now_ms=clock.to_ms(now), limit=batch)
        if not holds:
            continue
        statuses = dict(Grant.objects.filter(pk__in=[h.grant_id for h in holds]).values_list("id", "status"))
        for hold in holds:
            status = statuses.get(uuid.UUID(hold.grant_id))
            if status == Grant.Status.SUCCEEDED:
                gate.lease_drop(campaign_id=campaign_id, hold=hold)
                report.leases_dropped += 1
            elif status == Grant.Status.PENDING:
                gate.lease_extend(campaign_id=campaign_id, hold=hold, deadline_ms=extend_to)
                report.leases_extended += 1
            else:
                # failed, or never recorded (the insert failed or the web process died
                # before it): the claim was never acknowledged, so the slot goes back.
                gate.release(campaign_id=campaign_id, hold=hold, reuse_slot=True)
                report.released += 1
    return report


@dataclass
class DriftReport:
    campaign: str
    gate_missing: bool = False
    missing_in_redis: list[str] = field(default_factory=list)  # live grants Redis does not hold
    unknown_in_redis: list[str] = field(default_factory=list)  # Redis holds without a live grant
    slots_mismatch: list[str] = field(default_factory=list)  # next, free and holds do not add up
    meta_mismatch: list[str] = field(default_factory=list)  # state, window or quantity differ
    remaining_redis: int | None = None
    remaining_db: int = 0
    in_flight: int = 0  # claims whose INSERT has not committed yet (their slots count in remaining_redis)
    fixed: bool = False

    @property
    def drifted(self) -> bool:
        return (
            self.gate_missing
            or bool(self.missing_in_redis)
            or bool(self.unknown_in_redis)
            or bool(self.slots_mismatch)
            or bool(self.meta_mismatch)
        )


def campaign_reconcile(*, campaign: Campaign, fix: bool = True) -> DriftReport:
    """Compare the gate with PostgreSQL; rebuild it when they differ (and `fix`).

    Claims in flight are no drift (gate_heal.holds_drift says how they are told
    apart), so it can run during a drop: campaign_gates_heal runs it every few
    seconds.
    """
    campaign = Campaign.objects.get(pk=campaign.pk)
    report = DriftReport(campaign=campaign.slug)
    expected_meta = {k: str(v) for k, v in _gate_meta_args(campaign).items() if k != "campaign_id"}
    if campaign.allocation == Campaign.Allocation.CHOSEN:
        _seats_drift(campaign, report, expected_meta)
    else:
        drift = gate_heal.holds_drift(campaign_id=campaign.pk, quantity=campaign.quantity, fix=fix)
        report.gate_missing = drift is None
        live = drift.live if drift else Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count()
        report.remaining_db = campaign.quantity - live
        if drift is not None:
            report.meta_mismatch = _meta_mismatch(expected_meta, drift.meta)
            report.missing_in_redis, report.unknown_in_redis = drift.missing, drift.unknown
            report.slots_mismatch, report.in_flight = drift.slots, drift.in_flight
            report.remaining_redis = drift.remaining_redis
    if report.drifted and fix:
        campaign_gate_rebuild(campaign_id=campaign.pk, force=True)
        report.fixed = True
    return report


def _meta_mismatch(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    return [f"{k}: redis={actual.get(k)} db={v}" for k, v in expected.items() if actual.get(k) != v]


def _seats_drift(campaign: Campaign, report: DriftReport, expected_meta: dict[str, str]) -> None:
    """Seats: compare the sold marks (holds are Redis-only by design)."""
    sold_db = set(_sold_seats(campaign))
    report.remaining_db = campaign.quantity - len(sold_db)
    report.gate_missing = not gate.gate_exists(campaign_id=campaign.pk)
    if report.gate_missing:
        return
    report.meta_mismatch = _meta_mismatch(expected_meta, gate.meta_get(campaign_id=campaign.pk))
    report.remaining_redis = gate.remaining(campaign_id=campaign.pk)
    sold_redis = {slot for slot, value in gate.seat_states(campaign_id=campaign.pk).items() if value == "sold"}
    report.missing_in_redis = [f"seat slot {s} sold" for s in sorted(sold_db - sold_redis)]
    report.unknown_in_redis = [f"seat slot {s} marked sold" for s in sorted(sold_redis - sold_db)]
    if report.remaining_redis != report.remaining_db:
        report.slots_mismatch = [f"remaining redis={report.remaining_redis} db={report.remaining_db}"]


def campaign_gates_heal() -> int:
    """The periodic check (beat): reconcile every open first-free campaign; returns how many were rebuilt.

    After a Redis failover that lost the last writes, this is what bounds how long
    the gate can disagree with PostgreSQL (docs/reliability.md, I9). Seat
    campaigns are left to `reconcile`: a rebuild of theirs drops every live hold.
    """
    healed = 0
    campaigns = Campaign.objects.filter(
        status__in=[Status.OPEN, Status.SOLD_OUT], allocation=Campaign.Allocation.FIRST_FREE
    )
    for campaign in campaigns:
        try:
            report = campaign_reconcile(campaign=campaign, fix=True)
        except (RedisError, DatabaseError, GateUnavailable) as exc:
            logger.warning("could not check the gate of %s: %s", campaign.slug, exc)
            continue
        if report.fixed:
            healed += 1
            logger.warning("gate of %s drifted from PostgreSQL and was rebuilt: %s", campaign.slug, report)
    return healed


# --- coupons ----------------------------------------------------------------


def coupon_redeem(*, code: str, user_id: int) -> Coupon:
    """Mark the user's coupon used; works once."""
    with transaction.atomic():
        coupon = Coupon.objects.select_for_update().filter(code=code.strip().upper(), user_id=user_id).first()
        if coupon is None:
            raise CouponNotFound()
        if coupon.redeemed_at is not None:
            raise CouponAlreadyRedeemed()
        now = timezone.now()
        if coupon.expires_at <= now:
            raise CouponExpired()
        coupon.redeemed_at = now
        coupon.save(update_fields=["redeemed_at"])
    return coupon


# --- wallets ------------------------------------------------------------------


@transaction.atomic
def wallet_adjust(*, user_id: int, amount: int, reference: str) -> int:
    """Credit (or debit) a wallet by hand with a ledger entry; returns the new balance."""
    from coupons.models import LedgerEntry, Wallet
    from coupons.transfers import wallet_lock

    wallet = wallet_lock(user_id=user_id)
    LedgerEntry.objects.create(wallet=wallet, amount=amount, kind=LedgerEntry.Kind.ADJUSTMENT, reference=reference)
    Wallet.objects.filter(pk=wallet.pk).update(balance=F("balance") + amount)
    return wallet.balance + amount
