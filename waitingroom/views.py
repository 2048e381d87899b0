"""The waiting page: join, see your place, and go on once admitted (works with plain reloads)."""

from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.clientip import client_ip
from config.errors import ApplicationError
from waitingroom import selectors, ticket_cookie
from waitingroom.services import queue


def _start_key(room_id: int) -> str:
    return f"room:{room_id}:start"


@login_required
def room_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        room = selectors.room_get(slug=slug)
    except ApplicationError:
        return render(request, "404.html", status=404)
    status = queue.room_status(room=room, user_id=request.user.pk, ticket=ticket_cookie.read(request, room=room))
    # The progress bar measures from where the user stood when first seen in line.
    start = request.session.get(_start_key(room.pk))
    if status.outcome == "queued" and (start is None or status.ahead > start):
        start = request.session[_start_key(room.pk)] = status.ahead
    progress = 100 if status.outcome == "admitted" else 0
    if status.outcome == "queued" and start:
        progress = int(100 * (start - status.ahead) / start)
    pass_expires_at = None
    if status.pass_expires_ms:
        pass_expires_at = datetime.fromtimestamp(status.pass_expires_ms / 1000, tz=UTC)
    context = {"room": room, "status": status, "progress": progress, "pass_expires_at": pass_expires_at}
    response = render(request, "waitingroom/room_detail.html", context)
    ticket_cookie.keep(response, room=room, ticket=status.ticket)
    return response


@login_required
@require_POST
def room_join(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        room = selectors.room_get(slug=slug)
        ticket = ticket_cookie.read(request, room=room)
        queue.room_join(room_id=room.pk, user_id=request.user.pk, client_ip=client_ip(request), ticket=ticket)
    except ApplicationError as error:
        messages.error(request, error.detail)
    return redirect("room-detail", slug=slug)


@login_required
@require_POST
def room_leave(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        room = selectors.room_get(slug=slug)
        queue.room_leave(room_id=room.pk, user_id=request.user.pk)
        request.session.pop(_start_key(room.pk), None)
        messages.info(request, _("You left the queue."))
    except ApplicationError as error:
        messages.error(request, error.detail)
        return redirect("home")
    response = redirect("home")
    ticket_cookie.forget(response, room=room)  # a place given up is not to come back
    return response
