"""DRF authentication of partner requests by API key ("Authorization: Api-Key <key>"), Redis first."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from partners.services.keys import KeyPrincipal, key_authenticate

KEYWORD = "Api-Key"


class PartnerKeyAuthentication(BaseAuthentication):
    """request.user and request.auth are a KeyPrincipal: the key's prefix, partner and namespace."""

    def authenticate(self, request: Request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send one key: Authorization: Api-Key <key>."), code="key_invalid")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Unknown or malformed API key."), code="key_invalid") from None
        principal = key_authenticate(raw=raw)
        return principal, principal

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class IsPartner(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        return isinstance(request.auth, KeyPrincipal)


class PartnerKeyScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of the partner API (drf-spectacular finds it by the class it names)."""

    target_class = PartnerKeyAuthentication
    name = "partnerApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A partner API key, sent as "Authorization: Api-Key <key>" (docs/partners.md).',
        }
