"""REST resources for shopping sessions, the merchant's blacklist and its order settings.

- /shopping-sessions/: read-only, filters (state, flow, device, site, consumer, created); the
  detail carries the weight evidence, the photos and clips (`media`) and the session's event timeline.
- /blacklist-entries/: list, retrieve, create (a shopper who has ordered here, reason, until) and
  `POST {id}/lift/` (permission `shopping.change_blacklistentry`), through the blacklist services.
- /blacklist-rules/: CRUD, audited.
- /order-policy/: the caller's merchant's order settings; GET (defaults until first saved), PATCH.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from openvend.api.orders.serializers import OrderPolicySerializer
from openvend.api.orders.shopping_serializers import (
    BlacklistEntrySerializer,
    BlacklistRuleSerializer,
    ShoppingSessionDetailSerializer,
    ShoppingSessionSerializer,
)
from openvend.api.orders.views import ReadOnlyViewSet
from openvend.api.viewsets import TenantViewSet
from openvend.audit.services import audited_create, audited_delete, audited_update
from openvend.orders.models import OrderPolicy
from openvend.orders.selectors import policy_for
from openvend.shopping.blacklist_services import blacklist_add, blacklist_lift
from openvend.shopping.models import BlacklistEntry, BlacklistRule, ShoppingEvent, ShoppingSession


class ShoppingSessionViewSet(ReadOnlyViewSet):
    """Shopping sessions: one shopper's visit to one device, from the scan to the settled order."""

    queryset = ShoppingSession.objects.all()
    serializer_class = ShoppingSessionSerializer
    filterset_fields = {
        "state": ["exact"],
        "flow": ["exact"],
        "device": ["exact"],
        "site": ["exact"],
        "consumer": ["exact"],
        "created_at": ["gte", "lt"],
    }

    def get_queryset(self) -> Any:
        qs = ShoppingSession.objects.restrict(self.request.user, "view").order_by("-pk")
        if self.action != "list":
            qs = qs.prefetch_related(
                Prefetch("events", queryset=ShoppingEvent.objects.order_by("id")), "media"
            )
        return qs

    def get_serializer_class(self) -> Any:
        return ShoppingSessionSerializer if self.action == "list" else ShoppingSessionDetailSerializer


class BlacklistEntryViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    """Shoppers the merchant refuses, added by staff or by a rule; lifted, never deleted."""

    queryset = BlacklistEntry.objects.all()
    serializer_class = BlacklistEntrySerializer
    filterset_fields = {"active": ["exact"], "source": ["exact"], "consumer": ["exact"]}
    permission_actions = {"lift": "change"}

    def get_queryset(self) -> Any:
        return BlacklistEntry.objects.restrict(self.request.user, "view").order_by("-pk")

    @property
    def actor(self) -> Any:
        return self.request.user

    def perform_create(self, serializer: Any) -> None:
        data, user = serializer.validated_data, self.actor
        serializer.instance = blacklist_add(
            actor=user,
            merchant=user.merchant,
            consumer=data["consumer"],
            reason=data["reason"],
            until=data.get("until"),
        )

    @extend_schema(request=None, responses=BlacklistEntrySerializer)
    @action(detail=True, methods=["post"])
    def lift(self, request: Request, pk: str | None = None) -> Response:
        entry = blacklist_lift(actor=request.user, entry=self.get_object())
        return Response(BlacklistEntrySerializer(entry, context=self.get_serializer_context()).data)


class BlacklistRuleViewSet(TenantViewSet):
    """Rules that blacklist a shopper automatically once they reach a count within a window."""

    queryset = BlacklistRule.objects.all()
    serializer_class = BlacklistRuleSerializer
    filterset_fields = ["kind", "active"]

    def create_object(self, data: dict[str, Any]) -> BlacklistRule:
        rule = BlacklistRule(merchant=self.merchant_for_write(data), **data)
        audited_create(actor=self.actor, instance=rule)
        return rule

    def update_object(self, instance: BlacklistRule, data: dict[str, Any]) -> BlacklistRule:
        audited_update(actor=self.actor, instance=instance, data=data)
        return instance

    def delete_object(self, instance: BlacklistRule) -> None:
        audited_delete(actor=self.actor, instance=instance)


class OrderPolicyView(APIView):
    """The caller's merchant's order settings: unpaid orders, semi-automatic checkout, appeals."""

    permission_model = OrderPolicy

    @extend_schema(responses=OrderPolicySerializer)
    def get(self, request: Request) -> Response:
        user: Any = request.user
        return Response(OrderPolicySerializer(policy_for(user.merchant_id)).data)

    @extend_schema(request=OrderPolicySerializer, responses=OrderPolicySerializer)
    def patch(self, request: Request) -> Response:
        user: Any = request.user
        policy = policy_for(user.merchant_id)
        body = OrderPolicySerializer(policy, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if policy.pk is None:
            for field, value in body.validated_data.items():
                setattr(policy, field, value)
            audited_create(actor=request.user, instance=policy)
        else:
            audited_update(actor=request.user, instance=policy, data=body.validated_data)
        return Response(OrderPolicySerializer(policy).data)


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router (the order policy is a single URL: see urls)."""
    router.register("shopping-sessions", ShoppingSessionViewSet, basename="shoppingsession")
    router.register("blacklist-entries", BlacklistEntryViewSet, basename="blacklistentry")
    router.register("blacklist-rules", BlacklistRuleViewSet, basename="blacklistrule")
