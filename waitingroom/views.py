"""The waiting page: join, see your place, and go on once admitted (works with plain reloads)."""

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config import clock
from config.clientip import client_ip
from config.errors import ApplicationError
from waitingroom import selectors, ticket_cookie
from waitingroom.services import queue
from waitingroom.wait_words import wait_words


def _start_key(room_id: int) -> str:
    return f"room:{room_id}:start"


def _minutes_seconds(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"  # as the page's countdown writes it


def _pass_key(room_id: int) -> str:
    return f"room:{room_id}:pass"


def room_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        room = selectors.room_get_for_accounts(slug=slug)
    except ApplicationError:
        return render(request, "404.html", status=404)
    if not request.user.is_authenticated:
        # Sent here from a drop: say what this line is for and bring them back after logging in.
        login_url = f"{reverse('login')}?{urlencode({'next': request.path})}"
        return render(request, "waitingroom/room_detail.html", {"room": room, "login_url": login_url})
    status = queue.room_status(room=room, user_id=request.user.pk, ticket=ticket_cookie.read(request, room=room))
    # The progress bar measures from where the user stood when first seen in line.
    start = request.session.get(_start_key(room.pk))
    if status.outcome == "queued" and (start is None or status.ahead > start):
        start = request.session[_start_key(room.pk)] = status.ahead
    progress = 100 if status.outcome == "admitted" else 0
    if status.outcome == "queued" and start:
        progress = round(100 * (start - status.ahead) / start)
    pass_expires_at = turn_ended_at = None
    if status.pass_expires_ms:
        pass_expires_at = datetime.fromtimestamp(status.pass_expires_ms / 1000, tz=UTC)
        request.session[_pass_key(room.pk)] = status.pass_expires_ms
    elif status.outcome == "absent" and request.session.get(_pass_key(room.pk)):
        # Their turn came and went (the pass was used or ran out): say so once, above the join button.
        turn_ended_at = datetime.fromtimestamp(request.session.pop(_pass_key(room.pk)) / 1000, tz=UTC)
        request.session.pop(_start_key(room.pk), None)
    eta_words = None
    if status.outcome == "queued":
        eta_words = wait_words(status.eta_seconds, uncertain=status.eta_uncertain)
    context = {
        "room": room,
        "status": status,
        "progress": progress,
        "start": start or 0,
        "eta_words": eta_words,
        "pass_expires_at": pass_expires_at,
        "pass_left": _minutes_seconds(max(0, (status.pass_expires_ms or 0) - clock.now_ms()) // 1000),
        "turn_ended_at": turn_ended_at,
    }
    response = render(request, "waitingroom/room_detail.html", context)
    ticket_cookie.keep(response, room=room, ticket=status.ticket)
    return response


@login_required
@require_POST
def room_join(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        room = selectors.room_get_for_accounts(slug=slug)
        ticket = ticket_cookie.read(request, room=room)
        queue.room_join(room_id=room.pk, user_id=request.user.pk, client_ip=client_ip(request), ticket=ticket)
    except ApplicationError as error:
        messages.error(request, error.detail)
    return redirect("room-detail", slug=slug)


@login_required
@require_POST
def room_leave(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        room = selectors.room_get_for_accounts(slug=slug)
        queue.room_leave(room_id=room.pk, user_id=request.user.pk)
        request.session.pop(_start_key(room.pk), None)
        request.session.pop(_pass_key(room.pk), None)
        messages.info(request, _("You left the queue."))
    except ApplicationError as error:
        messages.error(request, error.detail)
        return redirect("home")
    response = redirect("home")
    ticket_cookie.forget(response, room=room)  # a place given up is not to come back
    return response
