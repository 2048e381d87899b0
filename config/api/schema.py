"""OpenAPI schema plumbing: names for nested serializers and the bearer scheme."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class AutoSchema(BaseAutoSchema):
    """Name nested serializers after their view: `CampaignClaimApi.OutputSerializer` → `CampaignClaimOutput`.

    Every view declares its own InputSerializer/OutputSerializer (STYLE.md), so
    the bare class names would collide in the schema's components.
    """

    def get_serializer_name(self, serializer, direction) -> str:
        qualname = type(serializer).__qualname__
        if "." in qualname:
            outer, inner = qualname.rsplit(".", 1)
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)


class BearerTokenScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"


class ErrorSerializer(serializers.Serializer):
    """The shape of every error answer."""

    code = serializers.CharField()
    detail = serializers.CharField()


def error_response(description: str) -> OpenApiResponse:
    """An error entry for `extend_schema(responses=...)`."""
    return OpenApiResponse(ErrorSerializer, description=description)


class RateLimitedSerializer(ErrorSerializer):
    """The 429 answer: code "rate_limited" and when to come back."""

    retry_after = serializers.IntegerField(help_text="seconds until a token is there again (the Retry-After header)")


def rate_limited_response(
    description: str = "rate_limited: this user's or this IP's bucket is empty",
) -> OpenApiResponse:
    return OpenApiResponse(RateLimitedSerializer, description=description)


# The header every 429 carries, for `extend_schema(parameters=[RETRY_AFTER])`.
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[429],
    description="seconds until a token is there again, rounded up",
)
