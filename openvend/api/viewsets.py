"""The shape every tenant resource shares: a scoped queryset (another tenant's id is a 404),
writes through the domain's services, and a `ScopedRelatedField` for references."""

from __future__ import annotations

from typing import Any, cast

from django.db import models
from rest_framework import serializers, viewsets
from rest_framework.request import Request


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id that only accepts rows the caller can see: others read as 'does not exist'."""

    def get_queryset(self) -> models.QuerySet:
        request = self.context.get("request")
        model: Any = cast(Any, self.queryset).model  # type: ignore[arg-type]
        manager = model._default_manager
        return manager.restrict(request.user if request else None, "view")


class TenantViewSet(viewsets.ModelViewSet):
    # Subclasses set `queryset` (for the model and the schema) and implement the three writes.
    # A comment, not a docstring: drf-spectacular would publish it as every operation's description.

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    permission_actions: dict[str, str] = {}

    def get_queryset(self) -> models.QuerySet:
        assert self.queryset is not None  # type: ignore[arg-type]
        model: Any = cast(Any, self.queryset).model  # type: ignore[arg-type]
        return model._default_manager.restrict(self.request.user, "view").order_by("pk")

    def merchant_for_write(self, data: dict[str, Any]) -> Any:
        """Merchant staff write into their own merchant; platform staff name one."""
        user: Any = self.request.user
        if user.is_platform_user:
            return data.pop("merchant", None)
        data.pop("merchant", None)
        return user.merchant

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = self.create_object(data)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = self.update_object(serializer.instance, data)

    def perform_destroy(self, instance: Any) -> None:
        self.delete_object(instance)

    def create_object(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def update_object(self, instance: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def delete_object(self, instance: Any) -> None:
        raise NotImplementedError

    @property
    def actor(self) -> Any:
        request: Request = self.request
        return request.user
