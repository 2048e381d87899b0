"""OpenAPI schema plumbing: names for nested serializers and the bearer scheme."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.utils import OpenApiResponse
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
