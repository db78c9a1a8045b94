from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from openvend.api.accounts.serializers import FreezeSerializer
from openvend.api.merchants.serializers import (
    DeviceGroupSerializer,
    MerchantSerializer,
    OrgUnitSerializer,
    ReviewSerializer,
    SiteSerializer,
)
from openvend.api.viewsets import TenantViewSet
from openvend.audit.services import audited_delete
from openvend.core.errors import OpenVendError
from openvend.merchants import services
from openvend.merchants.errors import MerchantErrorCode
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site


def _require_merchant(merchant: Any) -> Any:
    if merchant is None:
        raise OpenVendError(
            MerchantErrorCode.OTHER_TENANT_REFERENCE,
            _("Choose the merchant this belongs to."),
            fields={"merchant": [_("This field is required.")]},
        )
    return merchant


class MerchantViewSet(TenantViewSet):
    """Merchants (tenants). Platform staff see all and review registrations; merchant staff see their own."""

    queryset = Merchant.objects.all()
    serializer_class = MerchantSerializer
    filterset_fields = ["status", "kind"]
    search_fields = ["name", "code", "contact_name"]
    permission_actions = {
        "approve": "review",
        "reject": "review",
        "reopen": "review",
        "freeze": "freeze",
        "unfreeze": "freeze",
    }

    def create_object(self, data: dict[str, Any]) -> Merchant:
        return services.merchant_register(actor=self.actor, **data)

    def update_object(self, instance: Merchant, data: dict[str, Any]) -> Merchant:
        return services.merchant_update(actor=self.actor, merchant=instance, data=data)

    def delete_object(self, instance: Merchant) -> None:
        audited_delete(actor=self.actor, instance=instance)

    def _transition(self, request: Request, service: Any, body_class: Any = None, **names: str) -> Response:
        """Run one status change: validate the body, call the service, answer with the merchant."""
        merchant = self.get_object()
        kwargs: dict[str, Any] = {}
        if body_class is not None:
            body = body_class(data=request.data)
            body.is_valid(raise_exception=True)
            kwargs = {param: body.validated_data[field] for param, field in names.items()}
        service(actor=request.user, merchant=merchant, **kwargs)
        return Response(MerchantSerializer(merchant).data)

    @extend_schema(request=ReviewSerializer, responses=MerchantSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.merchant_approve, ReviewSerializer, note="note")

    @extend_schema(request=ReviewSerializer, responses=MerchantSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.merchant_reject, ReviewSerializer, note="note")

    @extend_schema(request=ReviewSerializer, responses=MerchantSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.merchant_reopen, ReviewSerializer, note="note")

    @extend_schema(request=FreezeSerializer, responses=MerchantSerializer)
    @action(detail=True, methods=["post"])
    def freeze(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.merchant_freeze, FreezeSerializer, reason="reason")

    @extend_schema(request=None, responses=MerchantSerializer)
    @action(detail=True, methods=["post"])
    def unfreeze(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.merchant_unfreeze)


class OrgUnitViewSet(TenantViewSet):
    """A merchant's organisation tree (组织机构). Moving a unit moves its subtree."""

    queryset = OrgUnit.objects.all()
    serializer_class = OrgUnitSerializer
    filterset_fields = ["parent"]
    search_fields = ["name"]

    def create_object(self, data: dict[str, Any]) -> OrgUnit:
        merchant = _require_merchant(self.merchant_for_write(data))
        return services.org_unit_create(
            actor=self.actor, merchant=merchant, parent=data.get("parent"), name=data["name"]
        )

    def update_object(self, instance: OrgUnit, data: dict[str, Any]) -> OrgUnit:
        data.pop("merchant", None)
        kwargs: dict[str, Any] = {"name": data.get("name")}
        if "parent" in data:
            kwargs["parent"] = data["parent"]
        return services.org_unit_update(actor=self.actor, unit=instance, **kwargs)

    def delete_object(self, instance: OrgUnit) -> None:
        audited_delete(actor=self.actor, instance=instance)


class SiteViewSet(TenantViewSet):
    """Sites (点位) where devices stand, with address and coordinates."""

    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    filterset_fields = ["org_unit", "city", "is_active"]
    search_fields = ["name", "code", "address"]
    ordering_fields = ["name", "code", "created_at"]

    def create_object(self, data: dict[str, Any]) -> Site:
        merchant = _require_merchant(self.merchant_for_write(data))
        return services.site_create(actor=self.actor, merchant=merchant, **data)

    def update_object(self, instance: Site, data: dict[str, Any]) -> Site:
        data.pop("merchant", None)
        return services.site_update(actor=self.actor, site=instance, data=data)

    def delete_object(self, instance: Site) -> None:
        audited_delete(actor=self.actor, instance=instance)


class DeviceGroupViewSet(TenantViewSet):
    """Machine groups (机器组) that can be given to staff as their data scope."""

    queryset = DeviceGroup.objects.all()
    serializer_class = DeviceGroupSerializer
    filterset_fields = ["org_unit"]
    search_fields = ["name", "note"]

    def create_object(self, data: dict[str, Any]) -> DeviceGroup:
        merchant = _require_merchant(self.merchant_for_write(data))
        return services.device_group_create(actor=self.actor, merchant=merchant, **data)

    def update_object(self, instance: DeviceGroup, data: dict[str, Any]) -> DeviceGroup:
        data.pop("merchant", None)
        return services.device_group_update(actor=self.actor, group=instance, data=data)

    def delete_object(self, instance: DeviceGroup) -> None:
        audited_delete(actor=self.actor, instance=instance)
