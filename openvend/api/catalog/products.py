"""REST resources for the product library: products, categories, manufacturers, applications.

Merchant staff work in their merchant's library; platform staff in the platform library. The
platform library is read (and adopted from) at /products/platform-library/ and /products/{id}/adopt/.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from openvend.api.catalog.products_serializers import (
    ApproveSerializer,
    CategorySerializer,
    ImportRequestSerializer,
    ImportResultSerializer,
    ManufacturerSerializer,
    PlatformProductSerializer,
    ProductApplicationSerializer,
    ProductSerializer,
    ProductStatusResultSerializer,
    ProductStatusSerializer,
    RejectSerializer,
)
from openvend.api.viewsets import TenantViewSet
from openvend.catalog import application_services as applications
from openvend.catalog import library_selectors as selectors
from openvend.catalog import library_services as library
from openvend.catalog.errors import CatalogErrorCode
from openvend.catalog.imports import XLSX, products_export, products_import
from openvend.catalog.models import Category, Manufacturer, Product, ProductApplication


class _LibraryViewSet(TenantViewSet):
    @property
    def library_merchant(self) -> Any:
        """Where the caller writes: their merchant's library, or the platform's (None)."""
        return self.request.user.merchant  # type: ignore[union-attr]


class ProductViewSet(_LibraryViewSet):
    """Products of the caller's library. Prices are integer fen (per 100 g when sold by weight)."""

    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    filterset_fields = ["category", "manufacturer", "kind", "status", "is_exception", "source"]
    search_fields = ["sku", "name", "barcode"]
    ordering_fields = ["sku", "name", "default_price_fen", "updated_at"]
    permission_actions = {
        "platform_library": "view",
        "adopt": "add",
        "import_file": "add",
        "export": "view",
        "set_status": "change",
    }

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("category", "manufacturer")

    def create_object(self, data: dict[str, Any]) -> Product:
        return library.product_create(actor=self.actor, merchant=self.library_merchant, **data)

    def update_object(self, instance: Product, data: dict[str, Any]) -> Product:
        return library.product_update(actor=self.actor, product=instance, data=data)

    def delete_object(self, instance: Product) -> None:
        library.product_delete(actor=self.actor, product=instance)

    @extend_schema(responses=PlatformProductSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="platform-library")
    def platform_library(self, request: Request) -> Response:
        qs = self.filter_queryset(selectors.platform_library(request.user))
        page = self.paginate_queryset(qs)
        serializer = PlatformProductSerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    @extend_schema(request=None, responses={201: ProductSerializer})
    @action(detail=True, methods=["post"])
    def adopt(self, request: Request, pk: str | None = None) -> Response:
        """Copy the platform product `id` into the caller's merchant library."""
        user: Any = request.user
        if user.merchant is None:
            raise PermissionDenied(_("Merchants adopt platform products into their own library."))
        try:
            source = selectors.platform_product(user, pk)
        except (Product.DoesNotExist, ValueError) as exc:
            raise NotFound() from exc
        copy = library.product_adopt(actor=user, merchant=user.merchant, source=source)
        return Response(ProductSerializer(copy, context=self.get_serializer_context()).data, status=201)

    @extend_schema(request=ProductStatusSerializer, responses=ProductStatusResultSerializer)
    @action(detail=False, methods=["post"], url_path="set-status")
    def set_status(self, request: Request) -> Response:
        """Put products on sale or take them off sale (上架/下架) in bulk."""
        body = ProductStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = set(body.validated_data["ids"])
        products = list(Product.objects.restrict(request.user, "change").filter(pk__in=ids))
        if len(products) != len(ids):
            raise NotFound()
        changed = library.products_set_status(
            actor=request.user, products=products, status=body.validated_data["status"]
        )
        return Response({"changed": changed})

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={200: ImportResultSerializer, 400: OpenApiResponse(description="Rows are invalid.")},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_file(self, request: Request) -> Response:
        """Import an Excel workbook into the caller's library, matched by SKU. With `dry_run`
        (the default) nothing is saved and each row says what it would do. Without it, any bad
        row means nothing is saved: 400 with the row errors."""
        if not request.user.has_perm("catalog.change_product"):
            raise PermissionDenied()
        body = ImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        file_format = "csv" if upload.name.lower().endswith(".csv") else "xlsx"
        result = products_import(
            actor=request.user,
            merchant=self.library_merchant,
            file_bytes=upload.read(),
            file_format=file_format,
            dry_run=body.validated_data["dry_run"],
        )
        data = result.as_dict()
        if result.has_errors and not result.dry_run:
            message = _("Nothing was imported: %(count)d problem(s) in the file.") % {
                "count": len(result.errors)
            }
            error = {"code": CatalogErrorCode.IMPORT_ROWS_INVALID.value, "message": message, "fields": {}}
            return Response({"error": error, "result": data}, status=400)
        return Response(data)

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        """The caller's library (filtered like the list) as a workbook that imports back unchanged."""
        scoped = self.filter_queryset(self.get_queryset())
        data = products_export(merchant=self.library_merchant, queryset=scoped)
        response = HttpResponse(data, content_type=XLSX)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="products-{stamp}.xlsx"'
        return response


class CategoryViewSet(_LibraryViewSet):
    """Product categories of the caller's library."""

    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    filterset_fields = ["parent"]
    search_fields = ["name"]

    def create_object(self, data: dict[str, Any]) -> Category:
        return library.category_create(actor=self.actor, merchant=self.library_merchant, **data)

    def update_object(self, instance: Category, data: dict[str, Any]) -> Category:
        return library.category_update(actor=self.actor, category=instance, data=data)

    def delete_object(self, instance: Category) -> None:
        library.category_delete(actor=self.actor, category=instance)


class ManufacturerViewSet(_LibraryViewSet):
    """Manufacturers (厂商) of the caller's library."""

    queryset = Manufacturer.objects.all()
    serializer_class = ManufacturerSerializer
    search_fields = ["name", "contact", "phone"]

    def create_object(self, data: dict[str, Any]) -> Manufacturer:
        return library.manufacturer_create(actor=self.actor, merchant=self.library_merchant, **data)

    def update_object(self, instance: Manufacturer, data: dict[str, Any]) -> Manufacturer:
        return library.manufacturer_update(actor=self.actor, manufacturer=instance, data=data)

    def delete_object(self, instance: Manufacturer) -> None:
        library.manufacturer_delete(actor=self.actor, manufacturer=instance)


class ProductApplicationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """New-product applications (申请新品): merchants apply, platform reviewers approve or reject."""

    queryset = ProductApplication.objects.all()
    serializer_class = ProductApplicationSerializer
    filterset_fields = ["status", "merchant"]
    search_fields = ["sku", "name", "barcode"]
    permission_actions = {"approve": "review", "reject": "review"}

    def get_queryset(self) -> Any:
        return selectors.visible_applications(self.request.user).order_by("-created_at", "-pk")

    def perform_create(self, serializer: Any) -> None:
        user: Any = self.request.user
        if user.merchant is None:
            raise PermissionDenied(_("Merchants apply for new products."))
        serializer.instance = applications.application_create(
            actor=user, merchant=user.merchant, **serializer.validated_data
        )

    @extend_schema(request=ApproveSerializer, responses=ProductApplicationSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Add the product to the platform library and adopt it into the applicant's library."""
        body = ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        application = applications.application_approve(
            actor=request.user, application=self.get_object(), note=body.validated_data["note"]
        )
        return Response(self.get_serializer(application).data)

    @extend_schema(request=RejectSerializer, responses=ProductApplicationSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        application = applications.application_reject(
            actor=request.user, application=self.get_object(), note=body.validated_data["note"]
        )
        return Response(self.get_serializer(application).data)


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
    router.register("products", ProductViewSet, basename="product")
    router.register("categories", CategoryViewSet, basename="category")
    router.register("manufacturers", ManufacturerViewSet, basename="manufacturer")
    router.register("product-applications", ProductApplicationViewSet, basename="productapplication")
