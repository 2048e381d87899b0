"""The waiting page of a partner's visitors: entered with the partner's room token, left with a signed pass
for the partner's registered return URL. No firstcome account: the visitor is the partner's client."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from config.clientip import client_ip
from config.errors import ApplicationError
from partners.services import visitors
from waitingroom import ticket_cookie, tickets
from waitingroom.services.queue import room_status
from waitingroom.wait_words import wait_words

COOKIE_SECONDS = 24 * 3600  # as long as any line waits (waitingroom/ticket_cookie.py)
MAX_REFRESH_SECONDS = 30  # a plain page reloads itself: it also is the visitor's heartbeat


def _refused(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """Every refusal as a page naming its stable code; nothing was changed."""
    context = {"code": error.code, "detail": error.detail, "status": error.status_code}
    response = render(request, "partners/visit_error.html", context, status=error.status_code)
    response["X-Error-Code"] = error.code
    return response


@require_GET
def visitor_room(request: HttpRequest, namespace: str, slug: str) -> HttpResponse:
    """With ?token=: enter the room (join, idempotent) and come back here without it. Without: where the
    visitor stands; once admitted, off to the partner's return URL with the pass."""
    try:
        token = request.GET.get("token")
        if token is not None:
            visitor = visitors.visitor_enter(namespace=namespace, slug=slug, token=token, client_ip=client_ip(request))
            response = redirect(reverse("partner-visitor-room", kwargs={"namespace": namespace, "slug": slug}))
            response.set_cookie(
                visitors.visitor_cookie_name(visitor.room),
                visitors.visitor_cookie_value(visitor),
                max_age=COOKIE_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
            return response
        room = visitors.visitor_room_get(namespace=namespace, slug=slug)
        visitor = visitors.visitor_from_cookie(
            namespace=namespace, slug=slug, value=request.COOKIES.get(visitors.visitor_cookie_name(room))
        )
        ticket = tickets.ticket_or_none(
            token=request.COOKIES.get(ticket_cookie.name(room.pk)), room_id=room.pk, user_id=visitor.user_id
        )
        status = room_status(room=room, user_id=visitor.user_id, ticket=ticket)
        if status.outcome == "admitted":
            return HttpResponseRedirect(visitors.visitor_return_url(visitor=visitor, expiry_ms=status.pass_expires_ms))
    except ApplicationError as error:
        return _refused(request, error)
    eta = wait_words(status.eta_seconds, uncertain=status.eta_uncertain) if status.outcome == "queued" else None
    context = {
        "room": room,
        "status": status,
        "eta_words": eta,
        "refresh": min(MAX_REFRESH_SECONDS, max(1, status.poll_after)),
        "ended": status.state in ("closed", "sold_out"),
    }
    response = render(request, "partners/visit.html", context)
    ticket_cookie.keep(response, room=room, ticket=status.ticket)
    return response
