"""OpenAPI schema plumbing: names for nested serializers, the bearer scheme, and the error shapes."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication


class AutoSchema(BaseAutoSchema):
    """Name nested serializers after their view: `CampaignClaimApi.OutputSerializer` → `CampaignClaimOutput`.

    Every view declares its own InputSerializer/OutputSerializer (STYLE.md), so
    the bare class names would collide in the schema's components.

    Every operation also documents the errors any view of its kind can answer
    (see `default_errors`), so a client, and the schema fuzz test, can rely on
    the schema naming every status the API sends.
    """

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self.default_errors(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(error_response(description), code)
        if "400" in responses:  # every 400 `invalid` says which fields were wrong (config/api/exceptions.py)
            invalid = OpenApiResponse(InvalidSerializer, description=responses["400"].get("description", ""))
            responses["400"] = self._get_response_for_code(invalid, "400")
        return operation

    def get_auth(self):
        """A public operation names no security requirement, so a generated client calls it without
        credentials (drf-spectacular would list the optional schemes and `{}`, which generators read
        as "authenticated"); one whose answer depends on who asks (`optional_authentication` on the
        view, e.g. the seat map's "mine") keeps the schemes beside `{}`."""
        public = {type(p) for p in self.view.get_permissions()} <= {permissions.AllowAny}
        if public and not getattr(self.view, "optional_authentication", False):
            return []
        return super().get_auth()

    def default_errors(self, operation: dict) -> list[tuple[str, str]]:
        """The error answers this operation can give whatever its view does (config/api/exceptions.py)."""
        parameters = operation.get("parameters", [])
        authenticators = self.view.get_authenticators()
        permission_classes = {type(p) for p in self.view.get_permissions()}
        public = permission_classes <= {permissions.AllowAny}
        unsafe = self.method not in permissions.SAFE_METHODS
        errors = []
        # Every write's body is parsed before its view runs (config.middleware.ApiBodyMiddleware),
        # so a write without a documented body still answers 400 parse_error to a broken one.
        if parameters or "requestBody" in operation or unsafe:
            errors.append(("400", "invalid input (invalid, parse_error)"))
        if authenticators:
            errors.append(("401", "missing, malformed, expired or revoked credentials"))
        if not public or (unsafe and any(isinstance(a, SessionAuthentication) for a in authenticators)):
            errors.append(("403", "permission_denied (also a session request without its CSRF token)"))
        if any(p["in"] == "path" or p["name"] == "page" for p in parameters):
            errors.append(("404", "not_found: no such object, or not yours"))
        if "requestBody" in operation:
            errors.append(("415", "unsupported_media_type: send JSON"))
        errors.append(("503", "store_unavailable: PostgreSQL or Redis is down; retry after Retry-After"))
        return errors

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


class InvalidSerializer(ErrorSerializer):
    """A 400: code "invalid" (with `errors`, per field) or "parse_error"."""

    errors = serializers.JSONField(
        required=False,
        help_text='invalid only: the messages per field, as {"field": ["message", ...]} '
        "(or a list of messages for a body that is not an object)",
    )


@extend_schema_field(OpenApiTypes.INT64)
class Int64Field(serializers.IntegerField):
    """An integer beyond 32 bits (millisecond times, fencing tokens): `format: int64` in the schema."""


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
