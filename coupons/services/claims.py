"""The claim (DESIGN §3): a slot taken in Redis, then the pending grant recorded in PostgreSQL (the hot path)."""

import contextlib
import logging
import uuid
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from config import clock
from config.errors import TokenUnverified
from coupons import redis as gate
from coupons.errors import ClaimInProgress, GateUnavailable, SoldOut, raise_for_outcome
from coupons.models import Grant
from coupons.services import gate_heal
from coupons.services.campaigns import campaign_mark_sold_out
from coupons.services.enqueue import drain_enqueue
from coupons.services.gate import campaign_gate_rebuild, hold_release_quietly, stats_correct_quietly
from coupons.services.passes import pass_use
from waitingroom.errors import AdmissionRequired

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ClaimOutcome:
    created: bool  # False: the user already held this grant (idempotent repeat)
    grant_id: str
    slot: int
    remaining: int


def claim_create(
    *,
    campaign_id: int,
    user_id: int,
    access_pass: str | None = None,
    now_ms: int | None = None,
    client_ip: str | None = None,
    token_generation: tuple[str, int] | None = None,
) -> ClaimOutcome:
    """Take a slot for the user in Redis, then record the pending grant in PostgreSQL.

    Rejections (rate limited, sold out, not open, closed, cancelled, no admission)
    and repeats are answered by Redis alone; every call spends a token of the
    user's and of `client_ip`'s bucket first (None: no per-IP limit), whatever
    the pass: in the claim script, or before the pass is used when one is sent
    (pass_token.lua says why). Only an accepted claim writes to the
    database, and the answer is given only after that write committed (I4); a
    repeat never names a grant whose row is not known to be committed (I8).
    A campaign behind a waiting room needs an access pass of that room, used up
    here (W4); if the claim then fails on our side, the user's place is given
    back. A pass is used up only by the campaign its room protects: sent with any
    other claim it is ignored. With `token_generation` (the caller's bearer token: its
    generation key and value) the claim script checks it first and TokenUnverified is
    raised, nothing done, unless Redis holds exactly that generation (the lean path).
    """
    claim = partial(
        _claim,
        campaign_id=campaign_id,
        user_id=user_id,
        now_ms=now_ms,
        client_ip=client_ip,
        token_generation=token_generation,
    )
    if not access_pass:  # nothing to use up or give back: pass_use would do nothing (a drop's usual claim)
        return claim(room_id=None, token_spent=False)
    with pass_use(
        campaign_id=campaign_id,
        user_id=user_id,
        access_pass=access_pass,
        now_ms=now_ms,
        client_ip=client_ip,
        stats_prefix="",
    ) as use:
        try:
            outcome = claim(room_id=use.room_id, token_spent=use.token_spent)
        except SoldOut:
            use.settle()
            raise  # the turn is over: nothing left to use it on
        except AdmissionRequired:
            # No usable pass: the script still answered a user who already holds a grant.
            # A refused pass says more than "admission required" (another room's pass: that is the answer).
            if use.refusal is None:
                raise
            raise use.refusal from None
        use.settle()  # the slot is taken: the room may count it off (W6)
    return outcome


class _TryAgain(Exception):
    """An attempt found its slot owned in PostgreSQL (the gate was behind and is repaired now), or met a
    first click whose claim fell through: the user gets one more attempt."""


def _claim(
    *,
    campaign_id: int,
    user_id: int,
    room_id: int | None,
    now_ms: int | None,
    client_ip: str | None,
    token_spent: bool = False,
    token_generation: tuple[str, int] | None = None,
) -> ClaimOutcome:
    """At most two attempts (each one claim script call, so each spends a token unless pass_use
    spent the call's token already); see _TryAgain."""
    attempt = partial(
        _claim_attempt,
        campaign_id=campaign_id,
        user_id=user_id,
        room_id=room_id,
        now_ms=now_ms,
        client_ip=client_ip,
        token_spent=token_spent,
        token_generation=token_generation,
    )
    try:
        return attempt(last=False)
    except _TryAgain:
        return attempt(last=True)


def _claim_attempt(
    *,
    campaign_id: int,
    user_id: int,
    room_id: int | None,
    now_ms: int | None,
    client_ip: str | None,
    token_spent: bool,
    token_generation: tuple[str, int] | None,
    last: bool,
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
        token_spent=token_spent,
        token_generation=token_generation,
    )
    result = claim()
    if result.outcome == "missing":
        campaign_gate_rebuild(campaign_id=campaign_id)
        result = claim()
    if result.outcome == "token_unverified":
        raise TokenUnverified()
    if result.outcome == "in_flight":
        return _claim_in_flight(campaign_id=campaign_id, user_id=user_id, result=result, last=last)
    if result.outcome == "duplicate":
        return ClaimOutcome(created=False, grant_id=result.grant_id, slot=result.slot, remaining=result.remaining)
    if result.outcome == "retired":
        return _claim_retired(campaign_id=campaign_id, user_id=user_id, result=result)
    if result.outcome != "accepted":
        raise_for_outcome(
            outcome=result.outcome,
            campaign_id=campaign_id,
            retry_after_ms=result.retry_after_ms,
            room_slug=result.room_slug,
        )

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
        hold_release_quietly(campaign_id=campaign_id, hold=hold, reuse_slot=True)
        stats_correct_quietly(campaign_id=campaign_id, heard="store_unavailable")
        raise GateUnavailable() from exc

    # Once committed (at once, unless a caller's transaction is still open):
    # clear the hold's provisional mark, repair the gate if Redis lost this hold
    # meanwhile (normally a no-op), and ring for a drain that delivers the grant.
    # Ringing before the commit could start a drain that does not see the row yet.
    transaction.on_commit(partial(confirm_quietly, campaign_id=campaign_id, hold=hold, pending=True))
    if result.remaining == 0:
        campaign_mark_sold_out(campaign_id=campaign_id, now=timezone.now())
    return ClaimOutcome(created=True, grant_id=grant_id, slot=result.slot, remaining=result.remaining)


def _claim_retired(*, campaign_id: int, user_id: int, result: gate.ClaimResult) -> ClaimOutcome:
    """A late click on a retired campaign (coupons/services/retire.py): its holders left Redis with
    the rest of the gate, so a winner's grant comes from PostgreSQL (one indexed read, after the
    click spent its rate-limit token); everyone else hears how the campaign ended."""
    held = (
        Grant.objects.filter(campaign_id=campaign_id, user_id=user_id, status__in=Grant.LIVE)
        .values_list("id", "slot")
        .first()
    )
    if held is not None:
        return ClaimOutcome(created=False, grant_id=str(held[0]), slot=held[1], remaining=result.remaining)
    raise_for_outcome(outcome=result.ended, campaign_id=campaign_id)


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
    stats_correct_quietly(
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
        hold_release_quietly(campaign_id=campaign_id, hold=hold, reuse_slot=True)
        existing = Grant.objects.filter(campaign_id=campaign_id, user_id=hold.user_id, status__in=Grant.LIVE).first()
        if existing is not None:
            behind = confirm_quietly(
                campaign_id=campaign_id,
                hold=gate.Hold(existing.slot, existing.user_id, str(existing.id)),
                pending=existing.status == Grant.Status.PENDING,
            )
            _gate_behind(campaign_id=campaign_id, behind=behind)
            stats_correct_quietly(campaign_id=campaign_id, heard="duplicate")
            return ClaimOutcome(created=False, grant_id=str(existing.id), slot=existing.slot, remaining=remaining)
    elif constraint == "grant_one_live_per_slot":
        # Another live grant owns this slot: the slot leaves the pool, its owner gets its hold back,
        # and this user tries once more on the repaired gate.
        hold_release_quietly(campaign_id=campaign_id, hold=hold, reuse_slot=False)
        _gate_behind(
            campaign_id=campaign_id, behind=gate_heal.slot_owner_restore(campaign_id=campaign_id, slot=hold.slot)
        )
        if not last:
            stats_correct_quietly(campaign_id=campaign_id, heard=None)
            raise _TryAgain()
    else:
        hold_release_quietly(campaign_id=campaign_id, hold=hold, reuse_slot=True)
    logger.warning("claim conflict on campaign %s (%s)", campaign_id, constraint or error)
    stats_correct_quietly(campaign_id=campaign_id, heard="store_unavailable")
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


def confirm_quietly(*, campaign_id: int, hold: gate.Hold, pending: bool) -> bool:
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
            drain_enqueue(campaign_id)
        return False
    if confirmed.repaired:
        logger.warning("gate of campaign %s had lost slot %s; restored", campaign_id, hold.slot)
    if confirmed.rang and not drain_enqueue(campaign_id):
        # Nobody will answer this ring: let the next claim ring again.
        with contextlib.suppress(RedisError):
            gate.doorbell_clear(campaign_id=campaign_id)
    return confirmed.repaired
