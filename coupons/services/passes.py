"""Access passes on a campaign's actions: which pass fits, and its use, reported back to the room.

A claim and a first seat hold behind a waiting room use the same steps: the
pass is consumed (W4) before the action's script, then settled once the action
took its slot (or found it needs none: the room counts it off, W6), or
restored when the action failed on our side (the user keeps the turn).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from coupons import redis as gate
from coupons.services.gate import campaign_gate_rebuild
from waitingroom.errors import PassInvalid
from waitingroom.services import passes as room_passes


def access_pass_fit(*, campaign_id: int, user_id: int, access_pass: str) -> str:
    """How a pass sent with an action on this campaign fits it (one HGET; no pass is used up here).

    "ours": a genuine pass of this user for the room in front of the campaign;
    "none": no room is in front, the pass is ignored; "foreign": the user's pass
    of another room, ignored (it stays valid where its room stands); "invalid":
    forged or someone else's.
    """
    room = gate.room_of(campaign_id=campaign_id)
    if room is None:
        campaign_gate_rebuild(campaign_id=campaign_id)
        room = gate.room_of(campaign_id=campaign_id) or ""
    if not room:
        return "none"
    pass_room = room_passes.pass_room(token=access_pass, user_id=user_id)
    if pass_room is None:
        return "invalid"
    return "ours" if str(pass_room) == room else "foreign"


@dataclass
class PassUse:
    """A pass sent with one action: consumed (or not), and reported back at most once."""

    consumed: room_passes.ConsumedPass | None = None
    refusal: PassInvalid | None = None  # why a pass that was sent cannot serve (None: none sent, or ignored)
    reported: bool = False

    @property
    def room_id(self) -> int | None:
        return self.consumed.room_id if self.consumed else None

    def settle(self) -> None:
        """The action took its slot, or the turn is over: the room may count the pass off."""
        if self.consumed is not None and not self.reported:
            self.reported = True
            room_passes.pass_settle(consumed=self.consumed)

    def restore(self) -> None:
        """The action could not use the pass: the user keeps the turn."""
        if self.consumed is not None and not self.reported:
            self.reported = True
            room_passes.pass_restore(consumed=self.consumed)


@contextmanager
def pass_use(*, campaign_id: int, user_id: int, access_pass: str | None, now_ms: int | None) -> Iterator[PassUse]:
    """Consume the pass if it is this user's for the room in front of the campaign; an action that
    raises gives it back (unless it settled first). A pass is used up only by the campaign its room
    protects: sent with any other action it is ignored."""
    use = PassUse()
    fit = access_pass_fit(campaign_id=campaign_id, user_id=user_id, access_pass=access_pass) if access_pass else "none"
    if fit == "invalid":
        use.refusal = PassInvalid()
    elif fit == "ours":
        try:
            use.consumed = room_passes.pass_consume(token=access_pass, user_id=user_id, now_ms=now_ms)
        except PassInvalid as exc:
            use.refusal = exc  # already used: a second click carries the pass the first click used
    try:
        yield use
    except Exception:
        use.restore()
        raise
