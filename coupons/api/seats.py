"""Seats of a chosen-slot campaign: the map, hold, confirm and release (DESIGN §5)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import RETRY_AFTER, ErrorSerializer, Int64Field, error_response, rate_limited_response
from config.clientip import client_ip
from coupons import selectors
from coupons.api.views import AdmissionRequiredSerializer, GrantOutputSerializer
from coupons.seats.selectors import seat_get, seat_map
from coupons.seats.services import seat_confirm, seat_hold, seat_release

SEAT_STATES = ["free", "held", "mine", "sold", "bought"]


class SeatOutputSerializer(serializers.Serializer):
    label = serializers.CharField()
    section = serializers.CharField()
    row = serializers.CharField(help_text='the row, e.g. "A" (rows in order from the stage)')
    number = serializers.IntegerField(help_text="the seat's number in its row, from 1")
    price = serializers.IntegerField()
    state = serializers.ChoiceField(
        SEAT_STATES,
        help_text="free; held (by someone else); mine (held by you: token and expires_ms set); sold (to someone "
        "else); bought (by you)",
    )
    token = Int64Field(allow_null=True, help_text="your hold's fencing token (state mine)")
    expires_ms = Int64Field(allow_null=True)


class SeatMapApi(APIView):
    permission_classes = [AllowAny]
    optional_authentication = True  # a signed-in user's own holds answer "mine" (config/api/schema.py)

    @extend_schema(
        responses={200: SeatOutputSerializer(many=True), 404: error_response("no such campaign")}, summary="Seat map"
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign_id = selectors.campaign_id_by_slug(slug=slug)
        user_id = request.user.id if request.user.is_authenticated else None
        return Response(SeatOutputSerializer(seat_map(campaign_id=campaign_id, user_id=user_id), many=True).data)


class SeatRefusedSerializer(ErrorSerializer):
    """A hold's or a confirm's 409; insufficient_funds says what the wallet has and what the seat costs."""

    balance = serializers.IntegerField(required=False, help_text="insufficient_funds only: your balance in KRW")
    price = serializers.IntegerField(required=False, help_text="insufficient_funds only: the seat's price in KRW")


class SeatHoldApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        label = serializers.CharField()
        token = Int64Field(help_text="send it back to confirm or release")
        expires_ms = Int64Field()

    class InputSerializer(serializers.Serializer):
        access_pass = serializers.CharField(
            required=False, max_length=1000, help_text="the waiting room's pass, for the first hold behind a room"
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            403: OpenApiResponse(AdmissionRequiredSerializer, description="admission_required or pass_invalid"),
            404: error_response("no such seat"),
            409: OpenApiResponse(
                SeatRefusedSerializer,
                description="seat_taken, not_open, closed, cancelled; or you could not complete the purchase, so "
                "nothing is held: already_booked (you bought a seat of this event), insufficient_funds (your balance "
                "is below the seat's price; both in the body), account_inactive",
            ),
            429: rate_limited_response(),
        },
        parameters=[RETRY_AFTER],
        summary="Hold a seat (one at a time: holding another seat releases your previous hold)",
    )
    def post(self, request: Request, slug: str, label: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign_id = selectors.campaign_id_by_slug(slug=slug)
        seat = seat_get(campaign_id=campaign_id, label=label)
        hold = seat_hold(
            campaign_id=campaign_id,
            user_id=request.user.id,
            slot=seat.slot,
            label=seat.label,
            access_pass=data.validated_data.get("access_pass"),
            client_ip=client_ip(request),
        )
        return Response(
            self.OutputSerializer({"label": seat.label, "token": hold.token, "expires_ms": hold.expires_ms}).data
        )


class SeatTokenInputSerializer(serializers.Serializer):
    token = serializers.IntegerField(min_value=1, max_value=2**62)


class SeatConfirmApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=SeatTokenInputSerializer,
        responses={
            201: OpenApiResponse(GrantOutputSerializer, description="bought: the seat is yours, paid once"),
            200: OpenApiResponse(
                GrantOutputSerializer, description="this hold had already bought the seat (a repeat): the same grant"
            ),
            409: OpenApiResponse(
                SeatRefusedSerializer,
                description="hold_expired, stale_token, seat_taken, insufficient_funds (balance and price in the body),"
                " already_booked or account_inactive (deactivated since the hold)",
            ),
        },
        summary="Buy the seat you hold, paying from your wallet",
    )
    def post(self, request: Request, slug: str, label: str) -> Response:
        data = SeatTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign_id = selectors.campaign_id_by_slug(slug=slug)
        seat = seat_get(campaign_id=campaign_id, label=label)
        sale = seat_confirm(
            campaign_id=campaign_id, user_id=request.user.id, slot=seat.slot, token=data.validated_data["token"]
        )
        grant = selectors.grant_get_for_user(grant_id=sale.grant.pk, user_id=request.user.id)
        return Response(
            GrantOutputSerializer(grant).data, status=status.HTTP_201_CREATED if sale.created else status.HTTP_200_OK
        )


class SeatReleaseApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=SeatTokenInputSerializer, responses={204: None}, summary="Let go of the seat you hold")
    def post(self, request: Request, slug: str, label: str) -> Response:
        data = SeatTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign_id = selectors.campaign_id_by_slug(slug=slug)
        seat = seat_get(campaign_id=campaign_id, label=label)
        seat_release(
            campaign_id=campaign_id, user_id=request.user.id, slot=seat.slot, token=data.validated_data["token"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
