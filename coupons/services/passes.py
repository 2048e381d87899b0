"""Access passes on a campaign's actions: which pass fits, and its use, reported back to the room.

A claim and a first seat hold behind a waiting room use the same steps: the
pass is consumed (W4) before the action's script, then settled once the action
took its slot (or found it needs none: the room counts it off, W6), or
restored when the action failed on our side (the user keeps the turn).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from coupons import redis as gate
from coupons.errors import raise_for_outcome
from coupons.services.gate import campaign_gate_rebuild
from waitingroom.errors import PassInvalid
from waitingroom.services import passes as room_passes


def access_pass_fit(*, room: str, user_id: int, access_pass: str) -> str:
    """How a pass sent with an action fits the campaign whose gate names `room` in front ("" for none).

    "ours": a genuine pass of this user for the room in front of the campaign;
    "none": no room is in front, the pass is ignored; "foreign": the user's pass
    of another room, ignored (it stays valid where its room stands); "invalid":
    forged or someone else's.
    """
    if not room:
        return "none"
    pass_room = room_passes.pass_room(token=access_pass, user_id=user_id)
    if pass_room is None:
        return "invalid"
    return "ours" if str(pass_room) == room else "foreign"


def _pass_token(*, campaign_id: int, user_id: int, client_ip: str | None, now_ms: int | None, stats_prefix: str) -> str:
    """Spend the action's rate-limit token before its pass is used up (pass_token.lua says why);
    returns the room in front of the campaign. An empty bucket is 429 and the pass stays unused."""
    token = partial(
        gate.pass_token,
        campaign_id=campaign_id,
        user_id=user_id,
        client_ip=client_ip,
        now_ms=now_ms,
        stats_prefix=stats_prefix,
    )
    answer = token()
    if answer.missing:
        campaign_gate_rebuild(campaign_id=campaign_id)
        answer = token()
    if answer.missing:
        raise_for_outcome(outcome="missing", campaign_id=campaign_id)
    if answer.retry_after_ms:
        raise_for_outcome(outcome="rate_limited", campaign_id=campaign_id, retry_after_ms=answer.retry_after_ms)
    return answer.room


@dataclass
class PassUse:
    """A pass sent with one action: consumed (or not), and reported back at most once."""

    consumed: room_passes.ConsumedPass | None = None
    refusal: PassInvalid | None = None  # why a pass that was sent cannot serve (None: none sent, or ignored)
    token_spent: bool = False  # the action's rate-limit token is spent: its script must not spend another
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
def pass_use(
    *,
    campaign_id: int,
    user_id: int,
    access_pass: str | None,
    now_ms: int | None,
    client_ip: str | None,
    stats_prefix: str,
) -> Iterator[PassUse]:
    """Consume the pass if it is this user's for the room in front of the campaign; an action that
    raises gives it back (unless it settled first). A pass is used up only by the campaign its room
    protects: sent with any other action it is ignored. With a pass the action's rate-limit token
    is spent first (`stats_prefix` names the action in the campaign's answer counters)."""
    use = PassUse()
    fit = "none"
    if access_pass:
        room = _pass_token(
            campaign_id=campaign_id, user_id=user_id, client_ip=client_ip, now_ms=now_ms, stats_prefix=stats_prefix
        )
        use.token_spent = True
        fit = access_pass_fit(room=room, user_id=user_id, access_pass=access_pass)
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
