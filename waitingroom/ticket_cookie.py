"""The arrival ticket in the browser: a cookie per room, renewed with every answer to the page.

The page and its script carry no ticket themselves: the browser sends the cookie
with every reload and every status poll of the page's script (same origin), and
each answer to a queued user renews it. Far back the page reads the line
document, not its status (issue 21), so the cookie may go unrenewed for as long
as the wait: it lives a day, and brings nothing back once the place is served.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from waitingroom import tickets

COOKIE_SECONDS = 24 * 3600  # longer than any line waits


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
            max_age=COOKIE_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


def forget(response: HttpResponse, *, room) -> None:
    response.delete_cookie(name(room.pk), samesite="Lax")
