"""Join, status (the heartbeat) and leave for a room; room stats for staff."""

import functools

from django.urls import get_script_prefix, get_urlconf, reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import RETRY_AFTER, Int64Field, error_response, rate_limited_response
from config.clientip import client_ip
from waitingroom import selectors, ticket_cookie, tickets
from waitingroom.services.line import room_line
from waitingroom.services.queue import RoomStatus, room_join, room_leave, room_status
from waitingroom.wait_words import wait_words

# What a room's `state` can say: its status, or sold_out once its campaign has nothing left.
ROOM_STATES = ["scheduled", "queueing", "paused", "closed", "sold_out"]


class RoomStatusOutputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(["admitted", "queued", "prequeued", "absent"])
    state = serializers.ChoiceField(ROOM_STATES)
    position = serializers.IntegerField(help_text="1 = next in line; 0 when admitted, absent or before opening")
    ahead = serializers.IntegerField()
    size = serializers.IntegerField(help_text="people in the queue")
    eta_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="seconds until admission (at least 1 while queued); null while paused, closed, before opening, "
        "or when the stock left is spoken for by people ahead (you get in only if a pass expires or a grant fails)",
    )
    eta_uncertain = serializers.BooleanField(
        help_text="the wait is a rough estimate (the pace is not measured yet, admission is slowed, or the wait is "
        "long): eta_words gives it as a range"
    )
    eta_words = serializers.CharField(
        allow_null=True,
        help_text='the wait in words in the request\'s language, e.g. "about 4 minutes", "3 to 5 minutes", '
        '"약 4분"; null when eta_seconds is null',
    )
    poll_after = serializers.IntegerField(help_text="seconds until the next status poll")
    throttled = serializers.BooleanField(help_text="admission holds while the system behind catches up")
    access_pass = serializers.CharField(allow_null=True, help_text="present once admitted: send it with the claim")
    pass_expires_ms = Int64Field(allow_null=True)
    ticket = serializers.CharField(
        allow_null=True,
        help_text="your arrival ticket while in line (queued or prequeued), sent with every answer: keep the "
        "latest and send it back with status and join. If the room's Redis state is lost (a failover), it puts "
        "you back at your place; without it you join at the back. Signed, readable: "
        "base64url JSON {r: room, u: user, s: arrival score}, a colon, a signature (the same for the same place).",
    )
    next_url = serializers.CharField(allow_null=True)
    front = serializers.BooleanField(
        help_text="true: poll this status every poll_after seconds (you are in the front zone, or admitted); "
        "false: read the room's line document (line_url) after poll_after seconds, place yourself in it with "
        "your ticket's arrival score, and poll status again once it puts you in the front zone",
    )
    line_url = serializers.CharField(help_text="the room's line document (the same for everyone queued)")


LINE_MAX_AGE = 1  # seconds a browser or proxy may keep the line document (deploy/nginx/firstcome.conf)

TICKET_PARAMETER = OpenApiParameter(
    "ticket",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="the latest arrival ticket this user was given in this room (else the room's ticket cookie is read)",
)


@functools.lru_cache(maxsize=1024)
def _line_url(slug: str, prefix: str, urlconf: str | None) -> str:
    """The room's line URL (prefix and urlconf: what reverse() reads besides the slug), built once per room."""
    return reverse("api-room-line", kwargs={"slug": slug})


def status_extras(room, result: RoomStatus) -> dict:
    """What a status answer says beyond the service's RoomStatus: where to go next, the line, the wait in words."""
    next_url = None
    if result.outcome == "admitted" and room.campaign_id:
        next_url = f"/campaigns/{room.campaign.slug}/"
    line_url = _line_url(room.slug, get_script_prefix(), get_urlconf())
    eta_words = wait_words(result.eta_seconds, uncertain=result.eta_uncertain) if result.outcome == "queued" else None
    return {"next_url": next_url, "line_url": line_url, "eta_words": eta_words}


def _status_body(room, result: RoomStatus) -> dict:
    return RoomStatusOutputSerializer({**result.__dict__, **status_extras(room, result)}).data


def request_ticket(request: Request, room, explicit: str | None) -> str | None:
    """The ticket a client sent: the one named in the request (a bad one is 400 ticket_invalid),
    else the page's cookie (a bad one is ignored: it may be another account's)."""
    if explicit:
        tickets.ticket_read(token=explicit, room_id=room.pk, user_id=request.user.id)
        return explicit
    return ticket_cookie.read(request, room=room)


def _answer(request: Request, room, result: RoomStatus) -> Response:
    response = Response(_status_body(room, result))
    if isinstance(request.successful_authenticator, SessionAuthentication):
        ticket_cookie.keep(response, room=room, ticket=result.ticket)  # the page's script polls with the session
    return response


class RoomJoinApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        ticket = serializers.CharField(
            required=False, help_text="your latest arrival ticket in this room, if you have one: keeps your place"
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: RoomStatusOutputSerializer,
            400: error_response("malformed body, or ticket_invalid (forged, garbled, another user's or room's)"),
            404: error_response("no such room"),
            409: error_response("not_open, closed or sold_out"),
            429: rate_limited_response(),
        },
        parameters=[RETRY_AFTER],
        summary="Join a room's queue (idempotent: a re-join keeps the place; a ticket brings a lost place back)",
    )
    def post(self, request: Request, slug: str) -> Response:
        room = selectors.room_get_for_accounts(slug=slug)
        explicit = None
        if request.body.strip() not in (b"", b"{}"):
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            explicit = data.validated_data.get("ticket")
        ticket = request_ticket(request, room, explicit)
        room_join(room_id=room.pk, user_id=request.user.id, client_ip=client_ip(request), ticket=ticket)
        return _answer(request, room, room_status(room=room, user_id=request.user.id))


class RoomStatusApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[TICKET_PARAMETER],
        responses={
            200: RoomStatusOutputSerializer,
            400: error_response("ticket_invalid (forged, garbled, another user's or room's)"),
            404: error_response("no such room"),
        },
        summary="My place (a ticket brings a place the room lost back)",
    )
    def get(self, request: Request, slug: str) -> Response:
        room = selectors.room_get_for_accounts(slug=slug)
        ticket = request_ticket(request, room, request.query_params.get("ticket"))
        return _answer(request, room, room_status(room=room, user_id=request.user.id, ticket=ticket))


class LineMarkSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="a place in line (1 = next)")
    score = serializers.IntegerField(help_text="the arrival score standing there")
    eta_seconds = serializers.IntegerField(allow_null=True, help_text="the wait status would tell that place")
    after = serializers.IntegerField(help_text="seconds until that place reads this document again")


class RoomLineApi(APIView):
    """The line document: the same answer for everyone, so it needs no account and the proxy keeps
    it for a second (deploy/nginx/firstcome.conf): a line of any length costs Python about one
    request a second for it (docs/waitingroom.md, What a crowd costs)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        state = serializers.CharField(help_text="scheduled, queueing, paused, closed or sold_out")
        size = serializers.IntegerField(help_text="people in the queue")
        throttled = serializers.BooleanField()
        generated_ms = serializers.IntegerField(help_text="when this document was made (server clock, ms)")
        poll_after = serializers.IntegerField(help_text="seconds until a user it cannot place reads it again")
        front = serializers.IntegerField(help_text="places of the front zone, whose users poll their own status")
        front_score = serializers.IntegerField(
            allow_null=True, help_text="an arrival score at or below this is in the front zone: poll status"
        )
        front_poll = serializers.IntegerField(help_text="seconds between two status polls in the front zone")
        marks = LineMarkSerializer(
            many=True,
            help_text="places along the line, the front first (every 200 places, then every 2% of the place); "
            "none before opening. Your score s (your ticket's `s`) lies between two marks: your place is between "
            "theirs, and their middle is within max(100, 1%) of it. A score below the first mark's has left "
            "the queue (admitted, or dropped as silent): poll status.",
        )

    @extend_schema(
        responses={200: OutputSerializer, 404: error_response("no such room")},
        summary="The room's line, the same for everyone queued (cached for a second)",
    )
    def get(self, request: Request, slug: str) -> Response:
        room = selectors.room_get(slug=slug)
        line = room_line(room=room)
        response = Response(self.OutputSerializer(line).data)
        response["Cache-Control"] = f"public, max-age={LINE_MAX_AGE}"
        return response


class RoomLeaveApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None, 404: error_response("no such room")}, summary="Leave the queue")
    def post(self, request: Request, slug: str) -> Response:
        room = selectors.room_get_for_accounts(slug=slug)
        room_leave(room_id=room.pk, user_id=request.user.id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomStatsApi(APIView):
    permission_classes = [IsAdminUser]

    class OutputSerializer(serializers.Serializer):
        queued = serializers.IntegerField()
        active = serializers.IntegerField()
        admitted = serializers.IntegerField()
        rate_ema = serializers.FloatField()
        state = serializers.ChoiceField(ROOM_STATES)
        throttled = serializers.BooleanField()

    @extend_schema(responses={200: OutputSerializer}, summary="Live numbers of a room (staff)")
    def get(self, request: Request, slug: str) -> Response:
        room = selectors.room_get(slug=slug)
        return Response(self.OutputSerializer(selectors.room_stats(room=room)).data)
