"""The status poll on the lean path (config/api/lean.py): a bearer token's poll without DRF.

Its answer is written here by hand, field by field in RoomStatusOutputSerializer's
order and types (tests/waitingroom/test_status_body.py holds them equal); the
serializer stays the schema's source and the DRF view's body. Anything else (a
session, which renews the ticket cookie; another Accept; a token it cannot vouch
for) goes to RoomStatusApi."""

from django.http import HttpRequest, HttpResponse

from accounts.token_cache import generation_in_script, identity_current, request_identity
from config.api.lean import accepts_json, allowed_methods, error_response, json_response
from config.errors import TokenUnverified
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
    identity = None
    # On a standalone Redis the status script checks the token's generation first (no round trip of
    # its own); on a cluster it is read before, as DRF's authentication reads it.
    in_script = generation_in_script()
    try:
        if (identity := request_identity(request, check_generation=not in_script)) is None:
            return None
        try:
            room = selectors.room_get_for_accounts(slug=slug)
            ticket = request_ticket(request, room, request.GET.get("ticket"))
        except Exception:
            # answered before the script: DRF authenticates before anything, so a revoked token hears that
            if in_script and not identity_current(identity):
                return None
            raise
        result = room_status(
            room=room,
            user_id=identity.user.id,
            ticket=ticket,
            token_generation=identity.generation_check if in_script else None,
        )
        body = status_body(room, result)
    except TokenUnverified:
        return None  # revoked, or its generation not in Redis: the DRF view asks the usual way
    except Exception as error:  # noqa: BLE001 - answered as the API's error handler answers it
        return error_response(error, allow=ALLOW, authenticated=identity)
    return json_response(body, status=200, allow=ALLOW)
