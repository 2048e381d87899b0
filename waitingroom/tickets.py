"""Arrival tickets: a queued user's place, signed and kept by the client (W8).

Redis keeps the line, and a failover to a replica that missed the last writes
forgets the people who joined just before it. Every answer to a queued user
carries a ticket naming their place: the room, the user and the arrival score
(which, like Cloudflare's arrival-time cookie, orders the line by arrival time
first: lib/heartbeat.lua). A place's ticket is the same at every answer, so
each process signs it once (the signature is most of a status poll's own
work). Tickets issued before carry the time their holder was last heard too
(key h), which is read past. The page keeps it in
a cookie, API clients send it back; a user Redis no longer knows is put back
at that place, and `seq` is raised past its arrival number.

A ticket brings a place back only while it could not have been given up
rightly: the tick has not served it (meta `served_upto`: admitted, or dropped
as silent at the front, W5). However long ago its holder was heard: far back
nobody polls (they read the line document, issue 21) and nothing sweeps the
line, so a place the tick has not reached is still its holder's. A client
that sends no ticket joins at the back.

The payload is signed, not encrypted: a client reads its own arrival score
to place itself in the room's line document (services/line.py). Keys: r room,
u user, s score.
"""

import functools
from dataclasses import dataclass

from django.core import signing
from django.core.signals import setting_changed

from waitingroom.errors import TicketInvalid

TICKET_SALT = "firstcome.waitingroom.ticket"


# Signed tickets kept per process: the places polling now (the front zone's, at most a few
# thousand a room), with room to spare (~200 bytes each).
ISSUED_KEPT = 20_000


@dataclass(frozen=True)
class Ticket:
    score: int


@functools.lru_cache(maxsize=ISSUED_KEPT)
def ticket_issue(*, room_id: int, user_id: int, score: int) -> str:
    return signing.dumps({"r": room_id, "u": user_id, "s": score}, salt=TICKET_SALT, compress=False)


def _forget_on_new_key(*, setting: str, **kwargs) -> None:
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):  # tests; a deployment restarts with its new key
        ticket_issue.cache_clear()


setting_changed.connect(_forget_on_new_key, dispatch_uid="waitingroom.tickets.forget_on_new_key")


def ticket_read(*, token: str, room_id: int, user_id: int) -> Ticket:
    """The ticket's place; TicketInvalid when it is forged, garbled or someone else's."""
    try:
        payload = signing.loads(token, salt=TICKET_SALT)
        if int(payload["r"]) != room_id or int(payload["u"]) != user_id:
            raise TicketInvalid()
        return Ticket(score=int(payload["s"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise TicketInvalid() from exc


def ticket_or_none(*, token: str | None, room_id: int, user_id: int) -> str | None:
    """A ticket from a cookie: kept when it reads as this user's in this room, else dropped
    quietly (a cookie left by someone else who used this browser is no error of this user's)."""
    try:
        return token if token and ticket_read(token=token, room_id=room_id, user_id=user_id) else None
    except TicketInvalid:
        return None
