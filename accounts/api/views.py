"""Token API: exchange credentials for a bearer token, revoke tokens, who am I."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import User
from config.api.schema import RETRY_AFTER, error_response, rate_limited_response
from config.clientip import client_ip


class TokenCreateApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        token_type = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: error_response("malformed body"),
            401: error_response("invalid_credentials: wrong username or password (the same for an unknown user)"),
            429: rate_limited_response("rate_limited: too many login attempts from this IP"),
        },
        parameters=[RETRY_AFTER],
        summary="Get a bearer token",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, expires_at = services.api_token_issue_for_credentials(
            **data.validated_data, client_ip=client_ip(request)
        )
        body = self.OutputSerializer({"token": token, "token_type": "Bearer", "expires_at": expires_at}).data
        # The answer is a credential: no cache, shared or the client's, may keep it.
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class TokenRevokeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None, 401: error_response("not authenticated, or token_revoked (also: the user is gone)")},
        summary="Revoke all of my bearer tokens",
    )
    def post(self, request: Request) -> Response:
        services.api_token_revoke(user=User(pk=request.user.id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """Who the credentials belong to; with a bearer token this runs no database query."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer}, summary="Who am I")
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user).data)
