"""The status poll on the lean path (config/api/lean.py): a bearer token's poll without DRF.

Its answer is written here by hand, field by field in RoomStatusOutputSerializer's
order and types (tests/waitingroom/test_status_body.py holds them equal); the
serializer stays the schema's source and the DRF view's body. Anything else (a
session, which renews the ticket cookie; another Accept; a token it cannot vouch
for) goes to RoomStatusApi."""

from django.http import HttpRequest, HttpResponse

from accounts.token_cache import lean_answer
from config.api.lean import accepts_json, allowed_methods
from waitingroom import selectors
from waitingroom.api.views import RoomStatusApi, request_ticket, status_extras
from waitingroom.services.queue import RoomStatus, room_status

ALLOW = allowed_methods(RoomStatusApi)


def _text(value) -> str | None:
    return None if value is None else str(value)


def _number(value) -> int | None:
    return None if value is None else int(value)


def status_body(room, result: RoomStatus) -> dict:
    """RoomStatusOutputSerializer's output for this status, without the serializer."""
    extras = status_extras(room, result)
    return {
        "outcome": str(result.outcome),
        "state": str(result.state),
        "position": int(result.position),
        "ahead": int(result.ahead),
        "size": int(result.size),
        "eta_seconds": _number(result.eta_seconds),
        "eta_uncertain": bool(result.eta_uncertain),
        "eta_words": _text(extras["eta_words"]),
        "poll_after": int(result.poll_after),
        "throttled": bool(result.throttled),
        "access_pass": _text(result.access_pass),
        "pass_expires_ms": _number(result.pass_expires_ms),
        "ticket": _text(result.ticket),
        "next_url": _text(extras["next_url"]),
        "front": bool(result.front),
        "line_url": str(extras["line_url"]),
    }


def room_status_poll(request: HttpRequest, slug: str) -> HttpResponse | None:
    if request.method != "GET" or not accepts_json(request):
        return None

    def before() -> tuple:
        room = selectors.room_get_for_accounts(slug=slug)
        return room, request_ticket(request, room, request.GET.get("ticket"))

    def run(read: tuple, user_id: int, token_generation: tuple[str, int] | None) -> tuple[dict, int]:
        room, ticket = read
        result = room_status(room=room, user_id=user_id, ticket=ticket, token_generation=token_generation)
        return status_body(room, result), 200

    return lean_answer(request, allow=ALLOW, before=before, run=run)
