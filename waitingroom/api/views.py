"""Join, status (the heartbeat) and leave for a room; room stats for staff."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import RETRY_AFTER, error_response, rate_limited_response
from config.clientip import client_ip
from waitingroom import selectors, services


class RoomStatusOutputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(["admitted", "queued", "prequeued", "absent"])
    state = serializers.CharField(help_text="scheduled, queueing, paused, closed or sold_out")
    position = serializers.IntegerField(help_text="1 = next in line; 0 when admitted, absent or before opening")
    ahead = serializers.IntegerField()
    size = serializers.IntegerField(help_text="people in the queue")
    eta_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="seconds until admission (at least 1 while queued); null while paused, closed, before opening, "
        "or when the stock left is spoken for by people ahead (you get in only if a pass expires or a grant fails)",
    )
    poll_after = serializers.IntegerField(help_text="seconds until the next status poll")
    throttled = serializers.BooleanField(help_text="admission holds while the system behind catches up")
    access_pass = serializers.CharField(allow_null=True, help_text="present once admitted: send it with the claim")
    pass_expires_ms = serializers.IntegerField(allow_null=True)
    next_url = serializers.CharField(allow_null=True)


def _status_body(room, result: services.RoomStatus) -> dict:
    next_url = None
    if result.outcome == "admitted" and room.campaign_id:
        next_url = f"/campaigns/{room.campaign.slug}/"
    return RoomStatusOutputSerializer({**result.__dict__, "next_url": next_url}).data


class RoomJoinApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: RoomStatusOutputSerializer,
            404: error_response("no such room"),
            409: error_response("not_open, closed or sold_out"),
            429: rate_limited_response(),
        },
        parameters=[RETRY_AFTER],
        summary="Join a room's queue (idempotent: a re-join keeps the place)",
    )
    def post(self, request: Request, slug: str) -> Response:
        room = selectors.room_get(slug=slug)
        services.room_join(room_id=room.pk, user_id=request.user.id, client_ip=client_ip(request))
        return Response(_status_body(room, services.room_status(room=room, user_id=request.user.id)))


class RoomStatusApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: RoomStatusOutputSerializer, 404: error_response("no such room")}, summary="My place")
    def get(self, request: Request, slug: str) -> Response:
        room = selectors.room_get(slug=slug)
        return Response(_status_body(room, services.room_status(room=room, user_id=request.user.id)))


class RoomLeaveApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None, 404: error_response("no such room")}, summary="Leave the queue")
    def post(self, request: Request, slug: str) -> Response:
        room = selectors.room_get(slug=slug)
        services.room_leave(room_id=room.pk, user_id=request.user.id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomStatsApi(APIView):
    permission_classes = [IsAdminUser]

    class OutputSerializer(serializers.Serializer):
        queued = serializers.IntegerField()
        active = serializers.IntegerField()
        admitted = serializers.IntegerField()
        rate_ema = serializers.FloatField()
        state = serializers.CharField()
        throttled = serializers.BooleanField()

    @extend_schema(responses={200: OutputSerializer}, summary="Live numbers of a room (staff)")
    def get(self, request: Request, slug: str) -> Response:
        room = selectors.room_get(slug=slug)
        return Response(self.OutputSerializer(selectors.room_stats(room=room)).data)
