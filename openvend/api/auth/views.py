from __future__ import annotations

from axes.exceptions import AxesBackendPermissionDenied
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from openvend.accounts.errors import AccountErrorCode
from openvend.accounts.lockout import lockout_message
from openvend.accounts.services import api_token_issue
from openvend.api.accounts.serializers import TokenRequestSerializer, TokenResponseSerializer
from openvend.api.errors import error_response


class TokenView(APIView):
    """Exchange a username and password for a bearer token (shown once; only its hash is kept)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer, auth=[])
    def post(self, request: Request) -> Response:
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            user = authenticate(
                request._request,
                username=body.validated_data["username"],
                password=body.validated_data["password"],
            )
        except AxesBackendPermissionDenied:
            user = None
        if getattr(request._request, "axes_locked_out", False):
            return error_response(
                AccountErrorCode.LOCKED_OUT,
                lockout_message(),
                429,
            )
        if user is None:
            return error_response(
                AccountErrorCode.INVALID_CREDENTIALS, _("Incorrect username or password."), 401
            )
        token, record = api_token_issue(user=user)
        return Response({"token": token, "expires_at": record.expires_at})
