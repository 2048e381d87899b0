"""The arrival ticket in the browser: a cookie per room, renewed with every answer to the page.

The page and its script carry no ticket themselves: the browser sends the cookie
with every reload and every status poll of the page's script (same origin), and
each answer to a queued user renews it. It is useless once its holder has been
silent for the room's silence timeout (tickets.py), so it lives that long.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from waitingroom import tickets


def name(room_id: int) -> str:
    return f"fc_ticket_{room_id}"


def read(request: HttpRequest, *, room) -> str | None:
    """The cookie's ticket when it is this user's in this room; another account's (same browser) is ignored."""
    return tickets.ticket_or_none(token=request.COOKIES.get(name(room.pk)), room_id=room.pk, user_id=request.user.pk)


def keep(response: HttpResponse, *, room, ticket: str | None) -> None:
    if ticket:
        response.set_cookie(
            name(room.pk),
            ticket,
            max_age=room.silence_timeout_seconds,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


def forget(response: HttpResponse, *, room) -> None:
    response.delete_cookie(name(room.pk), samesite="Lax")
