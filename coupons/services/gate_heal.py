"""Keeping the gate in step with PostgreSQL (I8, I9): provisional holds, repairs from committed rows, drift.

The claim script writes a hold before its grant row exists, so Redis can be
ahead of PostgreSQL (a claim in flight: the hold is marked provisional until
the commit is known), and Redis can fall behind it (a rebuild that read
PostgreSQL just before a commit, a failover to a replica that missed the last
writes). Everything here compares the two and moves Redis towards PostgreSQL;
PostgreSQL is never written.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import CharField
from django.db.models.functions import Cast

from config import clock
from coupons import redis as gate
from coupons import redis_rebuild
from coupons.models import Campaign, Grant, Seat
from coupons.seats import redis as seats_redis

# A repeat click that meets a provisional hold looks again after these pauses
# (an INSERT normally commits within a few milliseconds).
_SETTLE_FIRST_PAUSE = 0.005
_SETTLE_LONGEST_PAUSE = 0.05


def _lease_deadline_ms() -> int:
    return clock.now_ms() + settings.GRANT_LEASE_SECONDS * 1000


def _confirm(*, campaign_id: int, hold: gate.Hold, pending: bool) -> bool:
    """Write a committed live grant's hold back (no doorbell: whoever committed it rang); True if Redis lacked it."""
    deadline = _lease_deadline_ms() if pending else None
    return gate.confirm(campaign_id=campaign_id, hold=hold, lease_deadline_ms=deadline, ring_seconds=None).repaired


def hold_settle(*, campaign_id: int, hold: gate.Hold, wait_seconds: float) -> str:
    """What became of a provisional hold a repeat click met; waits at most `wait_seconds`, then asks PostgreSQL.

    "committed": the hold names a live grant (answer it); "gone": the first click's
    INSERT failed or its grant failed, and the hold was released (claim again);
    "pending": still not known (the INSERT is slow, or its web process died and
    the sweeper will release the slot when the lease ends).

    The mark is cleared only by confirm.lua after the commit, by release.lua with
    the hold, or by a rebuild (which writes committed holds only), so a hold still
    naming the grant without its mark is committed.
    """
    deadline = time.monotonic() + wait_seconds
    pause = _SETTLE_FIRST_PAUSE
    while True:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        current, mark = gate.hold_state(campaign_id=campaign_id, user_id=hold.user_id)
        if current != hold:
            return "gone"
        if mark != hold.grant_id:
            return "committed"
        if time.monotonic() >= deadline:
            break
        pause = min(pause * 2, _SETTLE_LONGEST_PAUSE)
    # Not confirmed in time. The commit may have happened and its confirm been lost
    # (a Redis error, a process killed in between): one lookup decides.
    status = Grant.objects.filter(pk=hold.grant_id).values_list("status", flat=True).first()
    if status in Grant.LIVE:
        _confirm(campaign_id=campaign_id, hold=hold, pending=status == Grant.Status.PENDING)
        return "committed"
    if status == Grant.Status.FAILED:
        gate.release(campaign_id=campaign_id, hold=hold, reuse_slot=True)
        return "gone"
    return "pending"


def slot_owner_restore(*, campaign_id: int, slot: int) -> bool:
    """A claim's INSERT met a slot another live grant owns: give that owner its hold back.

    Returns True when Redis had lost it, i.e. the gate is behind PostgreSQL.
    """
    owner = (
        Grant.objects.filter(campaign_id=campaign_id, slot=slot, status__in=Grant.LIVE)
        .values_list("user_id", "id", "status")
        .first()
    )
    if owner is None:  # the owner failed meanwhile: the slot is free again by its release
        return False
    user_id, grant_id, status = owner
    hold = gate.Hold(slot, user_id, str(grant_id))
    return _confirm(campaign_id=campaign_id, hold=hold, pending=status == Grant.Status.PENDING)


def _live_grants(campaign_id: int) -> dict[str, tuple[int, int, str]]:
    """grant id -> (user id, slot, status) of every live grant (ids as PostgreSQL's text: no UUID objects)."""
    rows = (
        Grant.objects.filter(campaign_id=campaign_id, status__in=Grant.LIVE)
        .annotate(text_id=Cast("id", output_field=CharField()))
        .values_list("text_id", "user_id", "slot", "status")
    )
    return {grant_id: (user_id, slot, status) for grant_id, user_id, slot, status in rows}


def rebuild_catch_up(*, campaign_id: int, written: redis_rebuild.GateState) -> int:
    """After a rebuild wrote `written` (what it read): re-read PostgreSQL and re-apply what changed since.

    Why this is complete. Every change of a grant is a commit in PostgreSQL
    followed by its Redis call: confirm.lua after a live grant commits, release.lua
    after it fails. The gate write at t_w replaces every key. Take a change
    committed at t_c whose call runs at t_x > t_c:
    - t_x > t_w: the call lands on the rebuilt gate, as it would on any gate;
    - t_x < t_w: the write may have undone it, but then t_c < t_x < t_w, so this
      re-read (after t_w) sees the change; if the rebuild's read saw it too, the
      write already agreed with it; if not, the grant is new here (confirm it) or
      gone from the live set (release it), which is exactly the call that was
      undone, applied again.
    Both calls are idempotent and guarded (release only frees a hold that still
    names the grant; confirm writes only what PostgreSQL committed), so applying
    one twice changes nothing. Releases go first: a slot that a failed grant gave
    up and a newer grant took leaves the free list again by the confirm.
    Not covered: a change whose call never runs (its process died in between);
    the periodic check (campaign_gates_heal) finds that one.
    Seats work the same way with one kind of change, a sale (seat_settle.lua after
    the commit marks the seat sold and its buyer booked; a sold seat is never sold again).
    Returns how many calls were applied again.
    """
    if written.meta.allocation == Campaign.Allocation.CHOSEN:
        return _seats_catch_up(campaign_id=campaign_id, seen=set(written.sold_seats))
    seen = {hold.grant_id: hold for hold in written.holds}
    live = _live_grants(campaign_id)
    applied = 0
    for grant_id in seen.keys() - live.keys():
        gate.release(campaign_id=campaign_id, hold=seen[grant_id], reuse_slot=True)
        applied += 1
    for grant_id in live.keys() - seen.keys():
        user_id, slot, status = live[grant_id]
        _confirm(
            campaign_id=campaign_id, hold=gate.Hold(slot, user_id, grant_id), pending=status == Grant.Status.PENDING
        )
        applied += 1
    return applied


def _seats_catch_up(*, campaign_id: int, seen: set[int]) -> int:
    sold = Seat.objects.filter(campaign_id=campaign_id, status=Seat.Status.SOLD).exclude(slot__in=seen)
    applied = 0
    for slot, buyer, grant_id in sold.values_list("slot", "sold_to_id", "grant_id"):
        seats_redis.seat_settle(
            campaign_id=campaign_id, action="sold", slot=slot, user_id=buyer, token="", grant_id=str(grant_id)
        )
        applied += 1
    return applied


@dataclass
class HoldsDrift:
    missing: list[str] = field(default_factory=list)  # live grants Redis does not hold
    unknown: list[str] = field(default_factory=list)  # Redis holds without a live grant (and not in flight)
    slots: list[str] = field(default_factory=list)  # next / free / holds that do not add up
    in_flight: int = 0  # provisional holds whose INSERT is still within its lease
    stale_marks: int = 0  # provisional marks of committed grants (cleared with `fix`)
    live: int = 0
    remaining_redis: int | None = None
    meta: dict[str, str] = field(default_factory=dict)


def holds_drift(*, campaign_id: int, quantity: int, fix: bool) -> HoldsDrift | None:
    """Compare a first-free gate with PostgreSQL; None when the gate is missing. O(claims). With `fix`
    it clears provisional marks whose grant is committed (what the claim's late confirm would do).

    Redis is read first, in one MULTI, then PostgreSQL: a hold seen in Redis
    without its row is a claim in flight only while it is provisional and its
    lease runs (a confirmed hold's row committed before its confirm, hence before
    the snapshot). A live row whose hold the snapshot lacks may belong to a claim
    accepted after the snapshot: such holds, and holds without a row, are read
    again after PostgreSQL, and only what is still wrong then counts.
    """
    snapshot = redis_rebuild.gate_snapshot(campaign_id=campaign_id)
    if not snapshot.meta:
        return None
    live = _live_grants(campaign_id)
    drift = HoldsDrift(
        meta=snapshot.meta, live=len(live), remaining_redis=quantity - snapshot.next + len(snapshot.free)
    )
    # user id -> the hold Redis should have ("<slot>:<grant id>"), and the grant's status
    expected = {str(user_id): (f"{slot}:{grant_id}", status) for grant_id, (user_id, slot, status) in live.items()}
    holders, provisional = snapshot.holders, snapshot.provisional
    suspects = {user for user, (hold, _) in expected.items() if holders.get(user) != hold}
    maybe_in_flight = []
    for user, hold in holders.items():
        grant_id = hold.partition(":")[2]
        marked = provisional.get(user) == grant_id
        row = expected.get(user)
        if row is not None and row[0] == hold:
            if marked:  # committed; its confirm is late or was lost
                drift.stale_marks += 1
                if fix:
                    _confirm(campaign_id=campaign_id, hold=_hold(user, hold), pending=row[1] == Grant.Status.PENDING)
        elif marked:
            maybe_in_flight.append(user)
        else:
            suspects.add(user)
    leases = redis_rebuild.lease_deadlines(
        campaign_id=campaign_id, members=[_hold(user, holders[user]).lease_member for user in maybe_in_flight]
    )
    now_ms = clock.now_ms()
    for user in maybe_in_flight:
        if leases.get(_hold(user, holders[user]).lease_member, 0) > now_ms:
            drift.in_flight += 1
        else:
            suspects.add(user)
    again = redis_rebuild.holders_now(campaign_id=campaign_id, user_ids=sorted(suspects, key=int))
    for user, hold in again.items():
        if user in expected and hold != expected[user][0]:
            drift.missing.append(f"user {user} slot {expected[user][0].partition(':')[0]}")
        if hold is not None and hold == holders.get(user) and expected.get(user, (None,))[0] != hold:
            drift.unknown.append(f"user {user} slot {hold.partition(':')[0]}")
    drift.slots = _slots_drift(snapshot)
    return drift


def _hold(user: str, hold: str) -> gate.Hold:
    slot, _, grant_id = hold.partition(":")
    return gate.Hold(int(slot), int(user), grant_id)


def _slots_drift(snapshot: redis_rebuild.GateSnapshot) -> list[str]:
    """Within one instant, each slot 1..next is either free or held, exactly once."""
    problems = []
    held = [int(hold.partition(":")[0]) for hold in snapshot.holders.values()]
    free = snapshot.free
    if len(set(held)) != len(held):
        problems.append("a slot is held twice")
    if len(set(free)) != len(free):
        problems.append("a slot is free twice")
    if set(held) & set(free):
        problems.append(f"held slots also free: {sorted(set(held) & set(free))[:10]}")
    if any(not 1 <= slot <= snapshot.next for slot in (*held, *free)):
        problems.append(f"slots beyond next={snapshot.next}")
    if snapshot.next != len(set(held) | set(free)):
        problems.append(f"next={snapshot.next} but {len(set(held) | set(free))} slots are held or free")
    return problems
