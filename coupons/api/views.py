"""Campaigns, the claim, my grants, my wallet and my coupons (the seats: coupons/api/seats.py)."""

import copy

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import ErrorSerializer, Int64Field, error_response, rate_limited_response
from config.clientip import client_ip
from config.memo import Memo
from coupons import published, selectors
from coupons.grant_words import GrantSummary, grant_summary
from coupons.models import Campaign, Grant
from coupons.services.claims import ClaimOutcome, claim_create
from coupons.services.coupon_codes import coupon_redeem


class Pagination(PageNumberPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class CampaignOutputSerializer(serializers.ModelSerializer):
    """A campaign as the API shows it. Its fields are built from the model once (ModelSerializer builds
    them on every instance, ~1 ms; the list makes one per campaign) and each instance gets its own copies."""

    amount = Int64Field(read_only=True, help_text="KRW credited to the wallet, or the coupon's discount in KRW")
    remaining = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "slug",
            "title",
            "description",
            "kind",
            "allocation",
            "quantity",
            "amount",
            "opens_at",
            "closes_at",
            "status",
            "remaining",
        ]
        read_only_fields = fields  # an answer: every field is always sent (required in the schema)

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        if "_built_fields" not in cls.__dict__:
            cls._built_fields = super().get_fields()
        return copy.deepcopy(cls._built_fields)

    def get_remaining(self, campaign: Campaign) -> int:
        return self.context["remaining"][campaign.pk]


# Each listed campaign's JSON, by everything it shows (its row and stock): the list is asked for by
# everybody at an opening, and only a campaign whose row or stock changed is serialized again.
_serialized = Memo(1000)


def campaigns_json(campaigns: list[Campaign], *, zone: str) -> list[bytes]:
    """CampaignOutputSerializer's output for each campaign (with its `remaining`), its times in the time zone
    `zone` (the current one), as the JSON renderer writes it; those not kept are serialized together."""

    def serialize(positions: list[int]) -> list[bytes]:
        missing = [campaigns[position] for position in positions]
        remaining = {campaign.pk: campaign.remaining for campaign in missing}
        items = CampaignOutputSerializer(missing, many=True, context={"remaining": remaining}).data
        renderer = JSONRenderer()
        return [renderer.render(item) for item in items]

    keys = [(selectors.campaign_shown(campaign=campaign), zone) for campaign in campaigns]
    return _serialized.get_many(keys, serialize)


class CampaignListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: CampaignOutputSerializer(many=True)}, summary="Published campaigns")
    def get(self, request: Request) -> HttpResponse:
        campaigns = published.campaigns_listed(limit=200)
        if request.accepted_media_type != JSONRenderer.media_type:  # the browsable API, an indent asked for
            remaining = {campaign.pk: campaign.remaining for campaign in campaigns}
            return Response(CampaignOutputSerializer(campaigns, many=True, context={"remaining": remaining}).data)
        # What JSONRenderer writes for the list (compact separators): its items' JSON, joined.
        zone = timezone.get_current_timezone_name()
        items = b",".join(campaigns_json(campaigns, zone=zone))
        return HttpResponse(b"[" + items + b"]", content_type=JSONRenderer.media_type)


class CampaignDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: CampaignOutputSerializer, 404: error_response("no such campaign")},
        summary="One campaign with its live remaining stock",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = selectors.campaign_get_published(slug=slug)
        remaining = {campaign.pk: selectors.campaign_remaining(campaign=campaign)}
        return Response(CampaignOutputSerializer(campaign, context={"remaining": remaining}).data)


class AdmissionRequiredSerializer(ErrorSerializer):
    """A 403 behind a waiting room: admission_required (with the room to join) or pass_invalid."""

    room_url = serializers.CharField(required=False, help_text="admission_required only: the room's page")


class ClaimRefusedSerializer(ErrorSerializer):
    """A claim's 409: sold_out, not_open, closed, cancelled, choose_seat, or claim_in_progress."""

    retry_after = serializers.IntegerField(
        required=False, help_text="claim_in_progress only: seconds before asking again (the Retry-After header)"
    )


# A claim's 429 and its 409 claim_in_progress both say when to come back.
CLAIM_RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[409, 429],
    description="seconds until a token is there again (429), or before asking again about a claim in progress "
    "(409 claim_in_progress); rounded up",
)


class CampaignClaimApi(APIView):
    """Claim a slot. Rejections and repeats are answered from Redis without any database query."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        """The body is optional; when present it must be a JSON object."""

        access_pass = serializers.CharField(
            required=False, max_length=1000, help_text="the waiting room's pass, for campaigns behind a room"
        )

    class OutputSerializer(serializers.Serializer):
        grant_id = serializers.UUIDField()
        slot = serializers.IntegerField()
        duplicate = serializers.BooleanField(help_text="true when the user already held this grant")
        remaining = serializers.IntegerField()
        status_url = serializers.CharField()

    @extend_schema(
        request=InputSerializer,
        responses={
            202: OpenApiResponse(OutputSerializer, description="accepted: the pending grant is recorded"),
            200: OpenApiResponse(OutputSerializer, description="the user already holds a grant here"),
            400: error_response("malformed body"),
            401: error_response("not authenticated"),
            404: error_response("no such campaign"),
            403: OpenApiResponse(AdmissionRequiredSerializer, description="admission_required or pass_invalid"),
            409: OpenApiResponse(
                ClaimRefusedSerializer,
                description="sold_out, not_open, closed, cancelled, choose_seat; or claim_in_progress: your first "
                "click's grant is not recorded yet (it is never named before it is), ask again after Retry-After",
            ),
            429: rate_limited_response(),
            503: error_response("a store is unavailable; nothing was taken"),
        },
        parameters=[CLAIM_RETRY_AFTER],
        summary="Claim a slot of a campaign",
    )
    def post(self, request: Request, slug: str) -> Response:
        # The hot path of a drop: most requests carry no body and are answered by
        # one Redis script, so the serializers run only where they add something
        # (a body to validate); the output is the OutputSerializer's shape.
        access_pass = None
        if request.body.strip() not in (b"", b"{}"):
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            access_pass = data.validated_data.get("access_pass")
        campaign_id = selectors.campaign_id_by_slug(slug=slug)
        outcome = claim_create(
            campaign_id=campaign_id, user_id=request.user.id, access_pass=access_pass, client_ip=client_ip(request)
        )
        return Response(*claim_answer(outcome))


def claim_answer(outcome: ClaimOutcome, *, grant_route: str = "api-grant-detail") -> tuple[dict, int]:
    """A claim's answer body (the OutputSerializer's shape) and status: the DRF view's, the lean path's
    (coupons/api/lean.py) and a partner's claim's (its grant at `grant_route`)."""
    body = {
        "grant_id": outcome.grant_id,
        "slot": outcome.slot,
        "duplicate": not outcome.created,
        "remaining": outcome.remaining,
        "status_url": reverse(grant_route, args=[outcome.grant_id]),
    }
    return body, status.HTTP_202_ACCEPTED if outcome.created else status.HTTP_200_OK


class GrantOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    campaign = serializers.CharField(source="campaign.slug")
    campaign_title = serializers.CharField(source="campaign.title")
    kind = serializers.ChoiceField(Campaign.Kind.choices, source="campaign.kind")
    amount = serializers.IntegerField(
        help_text="KRW you received (a credit; a coupon's discount) or paid (a seat: its price)"
    )
    slot = serializers.IntegerField()
    status = serializers.ChoiceField(Grant.Status.choices)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    seat_label = serializers.SerializerMethodField(help_text="the seat bought (a seat sale); else null")
    coupon_code = serializers.SerializerMethodField(help_text="the coupon code once issued; else null")
    summary = serializers.SerializerMethodField(
        help_text='what the grant gave you, in words in the request\'s language, e.g. "10 KRW added to your wallet"'
    )
    summary_url = serializers.SerializerMethodField(help_text="where to see it (the wallet, the coupon, the seat map)")

    def _summary(self, grant) -> GrantSummary:
        cache = self.context.setdefault("summaries", {})
        if grant.pk not in cache:
            cache[grant.pk] = grant_summary(grant)
        return cache[grant.pk]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_seat_label(self, grant) -> str | None:
        return self._summary(grant).seat_label

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_coupon_code(self, grant) -> str | None:
        return self._summary(grant).coupon_code

    def get_summary(self, grant) -> str:
        return self._summary(grant).text

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_summary_url(self, grant) -> str | None:
        return self._summary(grant).url


class GrantListApi(generics.ListAPIView):
    """My grants, newest first, paginated (the schema shows the page envelope)."""

    permission_classes = [IsAuthenticated]
    serializer_class = GrantOutputSerializer
    pagination_class = Pagination

    @extend_schema(summary="My grants")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.grant_list_for_user(user_id=self.request.user.id)


class GrantDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: GrantOutputSerializer, 404: error_response("not yours or no such grant")}, summary="One grant"
    )
    def get(self, request: Request, grant_id: str) -> Response:
        grant = selectors.grant_get_for_user(grant_id=grant_id, user_id=request.user.id)
        return Response(GrantOutputSerializer(grant).data)


class LedgerEntryOutputSerializer(serializers.Serializer):
    amount = serializers.IntegerField()
    kind = serializers.CharField()
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()


class WalletApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        balance = serializers.IntegerField()
        currency = serializers.CharField()
        entries = LedgerEntryOutputSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer}, summary="My wallet and its latest ledger entries")
    def get(self, request: Request) -> Response:
        wallet = selectors.wallet_get_for_user(user_id=request.user.id)
        entries = selectors.ledger_list_for_user(user_id=request.user.id)[:50]
        data = {"balance": wallet.balance if wallet else 0, "currency": "KRW", "entries": entries}
        return Response(self.OutputSerializer(data).data)


class CouponOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    campaign = serializers.CharField(source="campaign.slug")
    discount = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    redeemed_at = serializers.DateTimeField(allow_null=True)


class CouponListApi(generics.ListAPIView):
    """My coupons, newest first, paginated."""

    permission_classes = [IsAuthenticated]
    serializer_class = CouponOutputSerializer
    pagination_class = Pagination

    @extend_schema(summary="My coupons")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.coupon_list_for_user(user_id=self.request.user.id)


class CouponRedeemApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: CouponOutputSerializer,
            404: error_response("not yours or no such coupon"),
            409: error_response("already_redeemed or coupon_expired"),
        },
        summary="Redeem one of my coupons (works once)",
    )
    def post(self, request: Request, code: str) -> Response:
        coupon = coupon_redeem(code=code, user_id=request.user.id)
        return Response(CouponOutputSerializer(coupon).data)
