"""The partner API: another system registers drops, runs their lifecycle and claims for its own users."""

import re
from datetime import UTC, datetime

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import error_response, rate_limited_response
from coupons import selectors
from coupons.api.views import CLAIM_RETRY_AFTER, AdmissionRequiredSerializer, ClaimRefusedSerializer, claim_answer
from coupons.models import Campaign
from partners.api.authentication import IsPartner, PartnerKeyAuthentication
from partners.services import campaigns as partner_campaigns
from partners.services.claims import partner_claim_create

TAG = "partner"
_NO_CONTROL_CHARACTERS = re.compile(r"^[^\x00-\x1f\x7f]+$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="any 1-100 visible ASCII characters: the same key again answers the campaign the first request "
    "made (200), with a different body 422 idempotency_key_reused",
)
KEY_RATE_LIMITED = rate_limited_response("rate_limited: this key's bucket (or the client's, on a claim) is empty")


class StrictCharField(serializers.CharField):
    """A string, and only a string: 12 and "12" are not the same client id to us."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PartnerApi(APIView):
    authentication_classes = [PartnerKeyAuthentication]
    permission_classes = [IsPartner]


# A drop's window lies in this century; anything else is a typo (and years before 1900 have no
# fixed UTC offset in the local time zone's history).
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _within_range(value: datetime) -> datetime:
    if not _EARLIEST <= value < _LATEST:
        raise serializers.ValidationError(_("Use a date between 2000 and 2099."))
    return value


class TermsSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Campaign.Kind.choices, required=False)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000_000, help_text="N: how many slots there are")
    amount = serializers.IntegerField(min_value=0, max_value=10**12, help_text="KRW credited, or the discount")
    coupon_valid_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()

    def validate_opens_at(self, value: datetime) -> datetime:
        return _within_range(value)

    def validate_closes_at(self, value: datetime) -> datetime:
        return _within_range(value)

    def validate(self, attrs: dict) -> dict:
        opens_at = attrs.get("opens_at", getattr(self.instance, "opens_at", None))
        closes_at = attrs.get("closes_at", getattr(self.instance, "closes_at", None))
        if opens_at is not None and closes_at is not None and closes_at <= opens_at:
            raise serializers.ValidationError({"closes_at": _("The campaign must close after it opens.")})
        return attrs


class CampaignCountsSerializer(serializers.Serializer):
    remaining = serializers.IntegerField(help_text="slots still free, live from the gate")
    pending = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()


class PartnerCampaignOutputSerializer(serializers.Serializer):
    slug = serializers.SerializerMethodField()
    title = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField()
    quantity = serializers.IntegerField()
    amount = serializers.IntegerField()
    coupon_valid_days = serializers.IntegerField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    status = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    sold_out_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    counts = serializers.SerializerMethodField()

    def get_slug(self, campaign: Campaign) -> str:
        return partner_campaigns.campaign_slug_shown(campaign=campaign)

    @extend_schema_field(CampaignCountsSerializer)
    def get_counts(self, campaign: Campaign) -> dict:
        return {"remaining": self.context["remaining"][campaign.pk], **self.context["counts"][campaign.pk]}


def campaign_bodies(campaigns: list[Campaign]) -> list[dict]:
    """The campaigns with their live counts: one query for the grants, one Redis round trip for the stock."""
    context = {
        "remaining": selectors.campaign_remaining_many(campaigns=campaigns),
        "counts": selectors.campaign_grant_counts_many(campaigns=campaigns),
    }
    return PartnerCampaignOutputSerializer(campaigns, many=True, context=context).data


def campaign_body(campaign: Campaign) -> dict:
    return campaign_bodies([campaign])[0]


class PartnerCampaignListApi(PartnerApi):
    """The partner's campaigns, and new ones (drafts)."""

    class InputSerializer(TermsSerializer):
        slug = serializers.SlugField(max_length=39, help_text="yours to choose; unique among your campaigns")

    @extend_schema(
        tags=[TAG],
        responses={200: PartnerCampaignOutputSerializer(many=True), 429: KEY_RATE_LIMITED},
        summary="Your campaigns, newest first (at most 200)",
    )
    def get(self, request: Request) -> Response:
        campaigns = list(selectors.campaign_list_in_namespace(namespace=request.auth.namespace)[:200])
        return Response(campaign_bodies(campaigns))

    @extend_schema(
        tags=[TAG],
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(PartnerCampaignOutputSerializer, description="created, as a draft"),
            200: OpenApiResponse(PartnerCampaignOutputSerializer, description="made before with this Idempotency-Key"),
            409: error_response("slug_taken, or create_in_progress: the first request with this key is still running"),
            422: error_response("idempotency_key_reused: the key was used with another body"),
            429: KEY_RATE_LIMITED,
        },
        summary="Register a campaign (a draft: publish it to freeze its terms and open its gate)",
    )
    def post(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
            raise serializers.ValidationError({"Idempotency-Key": _("Use 1 to 100 visible ASCII characters.")})
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign, created = partner_campaigns.partner_campaign_create(
            partner_id=request.auth.partner_id,
            namespace=request.auth.namespace,
            data=data.validated_data,
            idempotency_key=key,
        )
        return Response(campaign_body(campaign), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PartnerCampaignDetailApi(PartnerApi):
    class InputSerializer(TermsSerializer):
        """The terms to change; the others stay."""

    @extend_schema(
        tags=[TAG],
        responses={200: PartnerCampaignOutputSerializer, 429: KEY_RATE_LIMITED},
        summary="One of your campaigns, with its live counts",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = partner_campaigns.partner_campaign_get(namespace=request.auth.namespace, slug=slug)
        return Response(campaign_body(campaign))

    @extend_schema(
        tags=[TAG],
        request=InputSerializer,
        responses={
            200: PartnerCampaignOutputSerializer,
            409: error_response("terms_frozen: the campaign is published; register a new campaign instead"),
            429: KEY_RATE_LIMITED,
        },
        summary="Change a draft's terms (a published campaign's terms never change)",
    )
    def patch(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        campaign = partner_campaigns.partner_campaign_update(
            namespace=request.auth.namespace, slug=slug, data=data.validated_data
        )
        return Response(campaign_body(campaign))


class PartnerCampaignPublishApi(PartnerApi):
    class InputSerializer(serializers.Serializer):
        open_now = serializers.BooleanField(
            required=False, default=False, help_text="open at once (moves opens_at to now)"
        )

    @extend_schema(
        tags=[TAG],
        request=InputSerializer,
        responses={
            200: PartnerCampaignOutputSerializer,
            409: error_response("invalid_transition: only a draft can be published"),
            429: KEY_RATE_LIMITED,
        },
        summary="Publish a draft: its terms freeze and claims open with its window",
    )
    def post(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = partner_campaigns.partner_campaign_publish(
            namespace=request.auth.namespace, slug=slug, open_now=data.validated_data["open_now"]
        )
        return Response(campaign_body(campaign))


class PartnerCampaignCloseApi(PartnerApi):
    @extend_schema(
        tags=[TAG],
        request=None,
        responses={
            200: PartnerCampaignOutputSerializer,
            409: error_response("invalid_transition"),
            429: KEY_RATE_LIMITED,
        },
        summary="Close a published campaign now (grants made are honoured)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = partner_campaigns.partner_campaign_close(namespace=request.auth.namespace, slug=slug)
        return Response(campaign_body(campaign))


class PartnerCampaignCancelApi(PartnerApi):
    @extend_schema(
        tags=[TAG],
        request=None,
        responses={
            200: PartnerCampaignOutputSerializer,
            409: error_response("invalid_transition"),
            429: KEY_RATE_LIMITED,
        },
        summary="Cancel a published campaign for good (grants made are still delivered)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = partner_campaigns.partner_campaign_cancel(namespace=request.auth.namespace, slug=slug)
        return Response(campaign_body(campaign))


class PartnerClaimApi(PartnerApi):
    """Claim for one of your users. The same gate and answers as a user's claim; a known client's repeats
    and refusals are answered from Redis without any database query."""

    class InputSerializer(serializers.Serializer):
        client_id = StrictCharField(
            max_length=128,
            trim_whitespace=False,
            validators=[RegexValidator(_NO_CONTROL_CHARACTERS, _("No control characters."))],
            help_text="your own opaque id of the user (1-128 characters, no control characters)",
        )
        access_pass = serializers.CharField(
            required=False,
            max_length=1000,
            help_text="the pass your visitor brought back from the campaign's waiting room (firstcome_pass): used once",
        )

    class OutputSerializer(serializers.Serializer):
        grant_id = serializers.UUIDField()
        slot = serializers.IntegerField()
        duplicate = serializers.BooleanField(help_text="true when the client already held this grant")
        remaining = serializers.IntegerField()
        status_url = serializers.CharField()

    @extend_schema(
        tags=[TAG],
        request=InputSerializer,
        responses={
            202: OpenApiResponse(OutputSerializer, description="accepted: the pending grant is recorded"),
            200: OpenApiResponse(OutputSerializer, description="the client already holds a grant here"),
            403: OpenApiResponse(
                AdmissionRequiredSerializer,
                description="admission_required (room_url: where to send the visitor, with a room token), or the "
                "pass refused before anything is spent: pass_invalid (garbled, bad signature, already used), "
                "pass_expired, pass_wrong_partner, pass_wrong_room, pass_wrong_client",
            ),
            409: OpenApiResponse(
                ClaimRefusedSerializer,
                description="sold_out, not_open, closed, cancelled, choose_seat; or claim_in_progress",
            ),
            429: KEY_RATE_LIMITED,
        },
        parameters=[CLAIM_RETRY_AFTER],
        summary="Claim a slot for one of your clients",
    )
    def post(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = partner_claim_create(
            namespace=request.auth.namespace,
            slug=slug,
            client_id=data.validated_data["client_id"],
            access_pass=data.validated_data.get("access_pass"),
        )
        return Response(*claim_answer(outcome, grant_route="api-partner-grant-detail"))


class PartnerGrantDetailApi(PartnerApi):
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        campaign = serializers.SerializerMethodField()
        client_id = serializers.CharField(source="user.external_client.client_id")
        slot = serializers.IntegerField()
        status = serializers.CharField()
        attempts = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        completed_at = serializers.DateTimeField(allow_null=True)

        def get_campaign(self, grant) -> str:
            return partner_campaigns.campaign_slug_shown(campaign=grant.campaign)

    @extend_schema(
        tags=[TAG],
        responses={200: OutputSerializer, 429: KEY_RATE_LIMITED},
        summary="One grant of your clients (pending, succeeded or failed)",
    )
    def get(self, request: Request, grant_id) -> Response:
        grant = selectors.grant_get_in_namespace(grant_id=grant_id, namespace=request.auth.namespace)
        return Response(self.OutputSerializer(grant).data)
