"""Arrival tickets: a queued user's place, signed and kept by the client (W8).

Redis keeps the line, and a failover to a replica that missed the last writes
forgets the people who joined just before it. Every answer to a queued user
carries a fresh ticket naming their place, the arrival score (which, like
Cloudflare's arrival-time cookie, orders the line by arrival time first:
lib/heartbeat.lua), and the time the user was last heard. The page keeps it in
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
u user, s score, h heard at (ms; no longer decides anything).
"""

from dataclasses import dataclass

from django.core import signing

from waitingroom.errors import TicketInvalid

TICKET_SALT = "firstcome.waitingroom.ticket"


@dataclass(frozen=True)
class Ticket:
    score: int
    heard_ms: int


def ticket_issue(*, room_id: int, user_id: int, score: int, now_ms: int) -> str:
    return signing.dumps({"r": room_id, "u": user_id, "s": score, "h": now_ms}, salt=TICKET_SALT, compress=False)


def ticket_read(*, token: str, room_id: int, user_id: int) -> Ticket:
    """The ticket's place; TicketInvalid when it is forged, garbled or someone else's."""
    try:
        payload = signing.loads(token, salt=TICKET_SALT)
        if int(payload["r"]) != room_id or int(payload["u"]) != user_id:
            raise TicketInvalid()
        return Ticket(score=int(payload["s"]), heard_ms=int(payload["h"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise TicketInvalid() from exc


def ticket_or_none(*, token: str | None, room_id: int, user_id: int) -> str | None:
    """A ticket from a cookie: kept when it reads as this user's in this room, else dropped
    quietly (a cookie left by someone else who used this browser is no error of this user's)."""
    try:
        return token if token and ticket_read(token=token, room_id=room_id, user_id=user_id) else None
    except TicketInvalid:
        return None
