"""The partner API's waiting room: put one in front of a campaign, change it, read it with live numbers."""

from django.core.validators import URLValidator
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.schema import error_response
from partners.api.views import KEY_RATE_LIMITED, TAG, PartnerApi
from partners.models import PartnerRoom
from partners.services import rooms as partner_rooms
from partners.services.campaigns import campaign_slug_shown
from waitingroom import selectors as room_selectors


class PartnerRoomOutputSerializer(serializers.Serializer):
    campaign = serializers.CharField(help_text="your campaign's slug; also the room's name in your room tokens")
    enter_url = serializers.CharField(
        help_text="where to send a visitor, with ?token=<room token> (partners/client/firstcome_partner.py)"
    )
    return_url = serializers.CharField(help_text="where an admitted visitor goes back, with ?firstcome_pass=...")
    admit_rate = serializers.IntegerField()
    max_active = serializers.IntegerField()
    pass_ttl_seconds = serializers.IntegerField()
    prequeue = serializers.BooleanField()
    state = serializers.CharField(help_text="scheduled, queueing, paused, closed or sold_out")
    queued = serializers.IntegerField()
    active = serializers.IntegerField(help_text="visitors admitted whose pass is not used or expired yet")
    admitted = serializers.IntegerField()


def room_body(partner_room: PartnerRoom) -> dict:
    room = partner_room.room
    stats = room_selectors.room_stats(room=room)
    namespace = partner_room.partner.namespace
    slug = campaign_slug_shown(campaign=room.campaign)
    body = {
        "campaign": slug,
        "enter_url": reverse("partner-visitor-room", kwargs={"namespace": namespace, "slug": slug}),
        "return_url": partner_room.return_url or partner_room.partner.return_url,
        "admit_rate": room.admit_rate,
        "max_active": room.max_active,
        "pass_ttl_seconds": room.pass_ttl_seconds,
        "prequeue": room.prequeue,
        "state": stats.state,
        "queued": stats.queued,
        "active": stats.active,
        "admitted": stats.admitted,
    }
    return PartnerRoomOutputSerializer(body).data


class PartnerRoomApi(PartnerApi):
    """The waiting room in front of one of your campaigns, for the visitors you send with room tokens."""

    class InputSerializer(serializers.Serializer):
        admit_rate = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
        max_active = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
        pass_ttl_seconds = serializers.IntegerField(min_value=10, max_value=3600, required=False)
        prequeue = serializers.BooleanField(
            required=False, help_text="shuffle those who arrive before opening (default true)"
        )
        return_url = serializers.URLField(
            required=False,
            allow_blank=True,
            max_length=200,
            validators=[URLValidator(schemes=["http", "https"])],
            help_text="where admitted visitors go back (http or https); blank: your partner's return URL",
        )

    @extend_schema(
        tags=[TAG],
        responses={200: PartnerRoomOutputSerializer, 429: KEY_RATE_LIMITED},
        summary="The waiting room in front of your campaign, with its live numbers",
    )
    def get(self, request: Request, slug: str) -> Response:
        partner_room = partner_rooms.partner_room_get(namespace=request.auth.namespace, slug=slug)
        return Response(room_body(partner_room))

    @extend_schema(
        tags=[TAG],
        request=InputSerializer,
        responses={
            201: OpenApiResponse(PartnerRoomOutputSerializer, description="the room is made: claims now need its pass"),
            200: OpenApiResponse(PartnerRoomOutputSerializer, description="the room's settings changed"),
            400: error_response("invalid, or return_url_required: neither the room nor your partner has one"),
            409: error_response("invalid_transition: the campaign ended; slug_taken"),
            429: KEY_RATE_LIMITED,
        },
        summary="Put a waiting room in front of your campaign, or change its settings",
    )
    def put(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        partner_room, created = partner_rooms.partner_room_put(
            partner_id=request.auth.partner_id, namespace=request.auth.namespace, slug=slug, data=data.validated_data
        )
        return Response(room_body(partner_room), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
