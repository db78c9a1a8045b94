"""REST resources for prices, product templates and sellable lists.

- `/api/v1/price-rules/`: price rules; `POST {id}/approve/`, `{id}/reject/` (platform reviewers),
  `{id}/withdraw/`.
- `GET /api/v1/price-quote/?device=&product=&at=&member=&track=`: what `catalog.selectors.price_for`
  answers (the price orders will charge).
- `/api/v1/product-templates/`: templates; `POST {id}/apply/` puts one on many devices.
- `/api/v1/sellable-items/`: each device's sellable list, with `bulk-add/`, `bulk-update/`,
  `bulk-delete/`.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from openvend.api.catalog.pricing_serializers import (
    BulkResultSerializer,
    PriceQuoteQuerySerializer,
    PriceQuoteSerializer,
    PriceReviewSerializer,
    PriceRuleSerializer,
    PriceRuleUpdateSerializer,
    ProductTemplateSerializer,
    SellableBulkAddSerializer,
    SellableBulkSerializer,
    SellableItemSerializer,
    TemplateApplyResultSerializer,
    TemplateApplySerializer,
)
from openvend.api.viewsets import TenantViewSet
from openvend.catalog import pricing_services as pricing
from openvend.catalog import selling_services as selling
from openvend.catalog.models import PriceRule, Product, ProductTemplate, SellableItem
from openvend.catalog.selectors import price_for
from openvend.core.errors import CoreErrorCode, OpenVendError
from openvend.devices.models import Device
from openvend.inventory.models import Track


class PriceRuleViewSet(TenantViewSet):
    """Price rules (价格策略): merchant-wide, site or device scene prices, with member prices, over
    a period. Rules in force are never edited: create a new one or withdraw. Pending rules (when
    the platform reviews this merchant's prices) can be edited and deleted until reviewed."""

    queryset = PriceRule.objects.all()
    serializer_class = PriceRuleSerializer
    filterset_fields = ["product", "scope", "status", "site", "device"]
    search_fields = ["product__sku", "product__name", "note"]
    permission_actions = {"approve": "review", "reject": "review", "withdraw": "change"}

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("product")

    def create_object(self, data: dict[str, Any]) -> PriceRule:
        self.merchant_for_write(data)  # the product decides the merchant
        return pricing.price_rule_create(actor=self.actor, **data)

    @extend_schema(request=PriceRuleUpdateSerializer, responses=PriceRuleSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        body = PriceRuleUpdateSerializer(rule, data=request.data, partial=kwargs.get("partial", False))
        body.is_valid(raise_exception=True)
        rule = pricing.price_rule_update(actor=self.actor, rule=rule, data=dict(body.validated_data))
        return Response(PriceRuleSerializer(rule, context=self.get_serializer_context()).data)

    @extend_schema(request=PriceRuleUpdateSerializer, responses=PriceRuleSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def delete_object(self, instance: PriceRule) -> None:
        pricing.price_rule_delete(actor=self.actor, rule=instance)

    def _decide(self, request: Request, decide: Any, **extra: Any) -> Response:
        body = PriceReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = decide(actor=request.user, rule=self.get_object(), note=body.validated_data["note"], **extra)
        return Response(PriceRuleSerializer(rule, context=self.get_serializer_context()).data)

    @extend_schema(request=PriceReviewSerializer, responses=PriceRuleSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Platform reviewers: put a pending price in force from its own start."""
        return self._decide(request, pricing.price_rule_approve)

    @extend_schema(request=PriceReviewSerializer, responses=PriceRuleSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Platform reviewers: refuse a pending price; `note` (required) tells the merchant why."""
        return self._decide(request, pricing.price_rule_reject)

    @extend_schema(request=PriceReviewSerializer, responses=PriceRuleSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        """Take an active or pending price out of force; it stays in the history."""
        return self._decide(request, pricing.price_rule_withdraw)


class PriceQuoteViewSet(viewsets.GenericViewSet):
    """The price `catalog.selectors.price_for` answers for a device and product at an instant:
    track price > device scene price > site scene price > merchant-wide price > default price."""

    queryset = PriceRule.objects.none()
    permission_model = PriceRule
    serializer_class = PriceQuoteSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(parameters=[PriceQuoteQuerySerializer], responses=PriceQuoteSerializer)
    def list(self, request: Request) -> Response:
        query = PriceQuoteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        device = Device.objects.restrict(request.user, "view").filter(pk=params["device"]).first()
        product = Product.objects.restrict(request.user, "view").filter(pk=params["product"]).first()
        if device is None or product is None:
            raise NotFound()
        track = None
        if params.get("track") is not None:
            track = Track.objects.filter(device=device, pk=params["track"]).first()
            if track is None:
                raise NotFound()
        at = params.get("at") or timezone.now()
        quote = price_for(device, product, at, member=params["member"], track=track)
        return Response(
            {
                "device": device.pk,
                "product": product.pk,
                "at": at,
                "member": params["member"],
                "price_fen": quote.price_fen,
                "list_price_fen": quote.list_price_fen,
                "source": quote.source,
                "rule_id": quote.rule_id,
            }
        )


class ProductTemplateViewSet(TenantViewSet):
    """Product templates (商品模版): a named list of products applied to many devices at once."""

    queryset = ProductTemplate.objects.all()
    serializer_class = ProductTemplateSerializer
    filterset_fields = ["device_type"]
    search_fields = ["name", "note"]
    permission_actions = {"apply": "view"}

    def create_object(self, data: dict[str, Any]) -> ProductTemplate:
        merchant = self.merchant_for_write(data)
        if merchant is None:
            raise PermissionDenied("Templates belong to a merchant.")
        products = data.pop("products", [])
        return selling.template_create(actor=self.actor, merchant=merchant, products=products, **data)

    def update_object(self, instance: ProductTemplate, data: dict[str, Any]) -> ProductTemplate:
        products = data.pop("products", None)
        return selling.template_update(actor=self.actor, template=instance, data=data, products=products)

    def delete_object(self, instance: ProductTemplate) -> None:
        selling.template_delete(actor=self.actor, template=instance)

    @extend_schema(request=TemplateApplySerializer, responses=TemplateApplyResultSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str | None = None) -> Response:
        """Fill the sellable lists of `devices` from this template in one transaction (needs the
        right to add and change sellable items). Answers the counts per device."""
        user: Any = request.user
        if not (user.has_perm("catalog.add_sellableitem") and user.has_perm("catalog.change_sellableitem")):
            raise PermissionDenied()
        template = self.get_object()
        body = TemplateApplySerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        mode = body.validated_data["mode"]
        counts = selling.template_apply(
            actor=user, template=template, devices=body.validated_data["devices"], mode=mode
        )
        rows = [{"device": device_id, **vars(count)} for device_id, count in counts.items()]
        return Response({"mode": mode, "devices": rows})


class SellableItemViewSet(TenantViewSet):
    """Each device's sellable list (可售商品清单). A shopper is only charged for enabled items."""

    queryset = SellableItem.objects.all()
    serializer_class = SellableItemSerializer
    filterset_fields = ["device", "product", "enabled", "template"]
    search_fields = ["product__sku", "product__name", "device__code"]
    permission_actions = {"bulk_add": "add", "bulk_update": "change", "bulk_delete": "delete"}

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("product", "device")

    def create_object(self, data: dict[str, Any]) -> SellableItem:
        self.merchant_for_write(data)
        return selling.sellable_add(actor=self.actor, **data)

    def update_object(self, instance: SellableItem, data: dict[str, Any]) -> SellableItem:
        for field in ("device", "product"):
            if field in data and data[field] != getattr(instance, field):
                raise OpenVendError(
                    CoreErrorCode.INVALID,
                    "Only `enabled` can change; remove the item and add another instead.",
                    fields={field: ["Cannot be changed."]},
                )
        if "enabled" not in data:
            return instance
        return selling.sellable_set_enabled(actor=self.actor, item=instance, enabled=data["enabled"])

    def delete_object(self, instance: SellableItem) -> None:
        selling.sellable_remove(actor=self.actor, item=instance)

    @extend_schema(request=SellableBulkAddSerializer, responses=TemplateApplyResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-add")
    def bulk_add(self, request: Request) -> Response:
        """Add (or re-enable) every one of `products` on every one of `devices`."""
        user: Any = request.user
        if user.merchant is None:
            raise PermissionDenied("Sellable lists belong to a merchant.")
        body = SellableBulkAddSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        counts = selling.sellable_bulk_add(actor=user, merchant=user.merchant, **body.validated_data)
        rows = [{"device": device_id, **vars(count)} for device_id, count in counts.items()]
        return Response({"mode": "merge", "devices": rows})

    @extend_schema(request=SellableBulkSerializer, responses=BulkResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-update")
    def bulk_update(self, request: Request) -> Response:
        """Enable or disable many items: `{"items": [ids], "enabled": false}`."""
        body = SellableBulkSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        if "enabled" not in body.validated_data:
            raise OpenVendError(
                CoreErrorCode.INVALID, "Say enabled true or false.", fields={"enabled": ["Required."]}
            )
        changed = selling.sellable_bulk_set_enabled(
            actor=request.user, items=body.validated_data["items"], enabled=body.validated_data["enabled"]
        )
        return Response({"changed": changed})

    @extend_schema(request=SellableBulkSerializer, responses=BulkResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-delete")
    def bulk_delete(self, request: Request) -> Response:
        """Remove many items from their devices' lists."""
        body = SellableBulkSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        removed = selling.sellable_bulk_remove(actor=request.user, items=body.validated_data["items"])
        return Response({"changed": removed})


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
    router.register("price-rules", PriceRuleViewSet, basename="pricerule")
    router.register("price-quote", PriceQuoteViewSet, basename="price-quote")
    router.register("product-templates", ProductTemplateViewSet, basename="producttemplate")
    router.register("sellable-items", SellableItemViewSet, basename="sellableitem")
