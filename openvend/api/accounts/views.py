from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from openvend.accounts import services
from openvend.accounts.models import Role, User
from openvend.api.accounts.serializers import (
    FreezeSerializer,
    PasswordResetResultSerializer,
    PasswordResetSerializer,
    RoleSerializer,
    UserSerializer,
)
from openvend.api.viewsets import TenantViewSet


class UserViewSet(TenantViewSet):
    """Staff accounts: create, edit, freeze/unfreeze, password reset by an administrator."""

    queryset = User.objects.all()
    serializer_class = UserSerializer
    filterset_fields = ["org_unit", "is_active", "roles"]
    search_fields = ["username", "first_name", "phone"]
    permission_actions = {"freeze": "freeze", "unfreeze": "freeze", "reset_password": "reset_password"}

    def get_queryset(self) -> Any:
        return super().get_queryset().prefetch_related("roles")

    def create_object(self, data: dict[str, Any]) -> User:
        merchant = self.merchant_for_write(data)
        roles = data.pop("roles", [])
        return services.user_create(actor=self.actor, merchant=merchant, roles=roles, **data)

    def update_object(self, instance: User, data: dict[str, Any]) -> User:
        roles = data.pop("roles", None)
        return services.user_update(actor=self.actor, user=instance, data=data, roles=roles)

    def delete_object(self, instance: User) -> None:
        services.user_delete(actor=self.actor, user=instance)

    @extend_schema(request=FreezeSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def freeze(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        body = FreezeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.user_freeze(actor=request.user, user=user, reason=body.validated_data["reason"])
        return Response(UserSerializer(user, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def unfreeze(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        services.user_unfreeze(actor=request.user, user=user)
        return Response(UserSerializer(user, context=self.get_serializer_context()).data)

    @extend_schema(request=PasswordResetSerializer, responses=PasswordResetResultSerializer)
    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        body = PasswordResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        password = services.user_reset_password(
            actor=request.user, user=user, new_password=body.validated_data["new_password"] or None
        )
        return Response({"password": password})


class RoleViewSet(TenantViewSet):
    """Roles: menu and action permissions plus a data scope. Preset roles can be edited, not deleted."""

    queryset = Role.objects.all()
    serializer_class = RoleSerializer
    filterset_fields = ["data_scope", "is_preset"]
    search_fields = ["name", "code"]

    def get_queryset(self) -> Any:
        return super().get_queryset().prefetch_related("org_units", "sites", "device_groups")

    def _m2m(self, data: dict[str, Any]) -> dict[str, Any]:
        return {name: data.pop(name) for name in ("org_units", "sites", "device_groups") if name in data}

    def create_object(self, data: dict[str, Any]) -> Role:
        merchant = self.merchant_for_write(data)
        m2m = self._m2m(data)
        return services.role_create(actor=self.actor, merchant=merchant, **data, **m2m)

    def update_object(self, instance: Role, data: dict[str, Any]) -> Role:
        m2m = self._m2m(data)
        return services.role_update(actor=self.actor, role=instance, data=data, **m2m)

    def delete_object(self, instance: Role) -> None:
        services.role_delete(actor=self.actor, role=instance)
