"""The drop page's view beacon (docs/ranking.md, "Most viewed"): one small POST, one Redis round trip."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.parsers import JSONParser, json_body_parse
from config.api.schema import RETRY_AFTER, error_response, rate_limited_response
from config.clientip import client_ip
from ranking import page_views

MAX_BEACON_BYTES = 2048  # a beacon is about 80 bytes


class BeaconJSONParser(JSONParser):
    """navigator.sendBeacon sends a string as text/plain (a JSON content type would need a CORS
    preflight); its body is JSON all the same, with the same checks. The API body middleware checks
    only JSON types, so the size is bounded here: no more than the limit is ever read."""

    media_type = "text/plain"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        raw = stream.read(MAX_BEACON_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_BEACON_BYTES:
            raise ParseError(_("The body is larger than %(limit)d bytes.") % {"limit": MAX_BEACON_BYTES})
        return json_body_parse(raw, charset=(parser_context or {}).get("encoding"))


class ViewBeaconApi(APIView):
    """Counts a view of a drop's page for the most-viewed board.

    No session or token is read (authentication_classes is empty), so the beacon
    costs no database query and needs no CSRF token: it acts for nobody, and a
    forged one can do nothing a direct request could not. The client IP's bucket
    (VIEW_BEACON_RATE_IP_*) bounds what any one host adds.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, BeaconJSONParser]

    class InputSerializer(serializers.Serializer):
        campaign = serializers.SlugField(max_length=80, help_text="the drop's slug")
        visitor = serializers.RegexField(
            r"^[A-Za-z0-9_-]{8,64}$",
            help_text="a random id the browser keeps (8-64 letters, digits, - or _): views of one visitor "
            "and drop within a minute count once",
        )

    class OutputSerializer(serializers.Serializer):
        counted = serializers.BooleanField(
            help_text="false for a repeat within the minute (or when no board counts views)"
        )
        views = serializers.IntegerField(
            help_text="the drop's estimated views this hour so far (its bucket of the last 24 hours); 0 if not counted"
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            202: OutputSerializer,
            400: error_response("invalid or parse_error: nothing was counted"),
            404: error_response("not_found: no listed, published drop of that slug; nothing was counted"),
            429: rate_limited_response("rate_limited: this client IP sent too many beacons"),
        },
        parameters=[RETRY_AFTER],
        examples=[
            OpenApiExample("A view", value={"campaign": "summer-drop", "visitor": "k3J9xQ2mP0aZ"}, request_only=True)
        ],
        summary="Count a view of a drop's page (sampled beacon)",
        tags=["rankings"],
        description="The drop page sends this with probability p (VIEW_BEACON_SAMPLE_RATE, 0.1 by default); "
        "each counted beacon adds 1/p views (docs/ranking.md). JSON as application/json or text/plain.",
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        outcome = page_views.view_record(client_ip=client_ip(request), **payload.validated_data)
        body = self.OutputSerializer({"counted": outcome.counted, "views": outcome.views}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
