"""Console pages: the product library, categories, manufacturers and new-product applications.

Merchant staff manage their merchant's library; platform staff manage the platform library and
only look at merchants' rows. Every write goes through `catalog.library_services`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import action, display

from openvend.catalog import library_selectors as selectors
from openvend.catalog import library_services as library
from openvend.catalog.choices import ProductKind, ProductStatus
from openvend.catalog.imports import XLSX, products_export
from openvend.catalog.library_services import PRODUCT_FIELDS
from openvend.catalog.models import Category, Manufacturer, Product
from openvend.consoles.admin import catalog_applications, catalog_pages  # noqa: F401 (registers)
from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.admin.catalog_pages import yuan
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError

STATUS_COLOURS = {ProductStatus.ON_SALE: "success", ProductStatus.OFF_SALE: "warning"}


class LibraryFilter(admin.SimpleListFilter):
    """Platform console: the platform's own library, or merchants' libraries."""

    title = _("library")
    parameter_name = "library"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [("platform", _("Platform library")), ("merchants", _("Merchant libraries"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "platform":
            return queryset.filter(merchant__isnull=True)
        if self.value() == "merchants":
            return queryset.filter(merchant__isnull=False)
        return queryset


class CategoryFilter(admin.SimpleListFilter):
    """Only the caller's library's categories: another merchant's names never show."""

    title = _("category")
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        owner = getattr(request.user, "merchant_id", None)
        return [(str(c.pk), c.name) for c in selectors.library_categories(owner).order_by("name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(category_id=self.value()) if self.value() else queryset


class LibraryAdmin(ConsoleModelAdmin):
    """Shared by the library's models: writes go to the caller's own library; rows of another
    library (a merchant's, seen from the platform console) are read-only."""

    library_fk_fields: dict[str, Any] = {}

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*(super().get_exclude(request, obj) or []), "merchant"]

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        return [LibraryFilter, *filters] if is_platform(self.admin_site) else filters

    def _own(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or obj.merchant_id == getattr(request.user, "merchant_id", None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._own(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._own(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = self.library_fk_fields.get(db_field.name)
        if choices is not None:
            kwargs["queryset"] = choices(getattr(request.user, "merchant_id", None))
            return super(ConsoleModelAdmin, self).formfield_for_foreignkey(db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.library_merchant_id = getattr(request.user, "merchant_id", None)
        return form

    def _service_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self._service_save(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # the library services audited and re-checked the save

    def _cleaned(self, form: Any, change: bool) -> dict[str, Any]:
        names = form.changed_data if change else list(form.cleaned_data)
        data = {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}
        if data.get("image") is False:  # "clear" ticked
            data["image"] = ""
        return data

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class LibraryForm(forms.ModelForm):
    """Sets the row's library before the model validates it, then adds the library's rules."""

    library_merchant_id: int | None = None

    def _post_clean(self) -> None:
        if self.instance.pk is None:
            self.instance.merchant_id = self.library_merchant_id
        super()._post_clean()  # type: ignore[misc]


class ProductForm(LibraryForm):
    class Meta:
        model = Product
        fields = sorted(library.PRODUCT_FIELDS)

    def _post_clean(self) -> None:
        super()._post_clean()
        for name, problems in library.product_rule_errors(self.instance).items():
            target = name if name in self.fields else None
            for problem in problems:
                if target is None or not self.has_error(target):
                    self.add_error(target, problem)


@register(Product, platform_console, merchant_console)
class ProductAdmin(LibraryAdmin):
    form = ProductForm
    list_display = [
        "sku",
        "name",
        "barcode",
        "category",
        "specification",
        "kind",
        "price",
        "is_exception",
        "status_badge",
    ]
    list_filter = [CategoryFilter, "kind", "status", "is_exception"]
    search_fields = ["sku", "name", "barcode"]
    list_select_related = ["category", "manufacturer"]
    fields = [*PRODUCT_FIELDS, "source"]
    readonly_fields = ["source"]
    library_fk_fields = {
        "category": selectors.library_categories,
        "manufacturer": selectors.library_manufacturers,
    }
    actions = ["put_on_sale", "take_off_sale"]
    actions_list = ["import_products", "export_library", "platform_library"]

    @display(description=_("price"))
    def price(self, obj: Product) -> str:
        per = _(" / 100 g") if obj.kind == ProductKind.BY_WEIGHT else ""
        return f"{yuan(obj.default_price_fen)}{per}"

    @display(description=_("status"), label=STATUS_COLOURS)
    def status_badge(self, obj: Product) -> Any:
        return obj.status, obj.get_status_display()

    def _service_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = self._cleaned(form, change)
        data.pop("source", None)
        if change:
            library.product_update(actor=request.user, product=Product.objects.get(pk=obj.pk), data=data)
        else:
            created = library.product_create(actor=request.user, merchant=request.user.merchant, **data)  # type: ignore[union-attr]
            obj.pk = obj.id = created.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        library.product_delete(actor=request.user, product=obj)

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        own = queryset.filter(selectors.library_q(getattr(request.user, "merchant_id", None)))
        try:
            changed = library.products_set_status(actor=request.user, products=list(own), status=status)
        except (OpenVendError, PermissionDenied) as exc:
            self.message_user(request, str(getattr(exc, "message", exc)), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)d product changed.", "%(count)d products changed.", changed)
            % {"count": changed},
        )

    @action(description=_("Put on sale"), permissions=["change"])
    def put_on_sale(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, ProductStatus.ON_SALE)

    @action(description=_("Take off sale"), permissions=["change"])
    def take_off_sale(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, ProductStatus.OFF_SALE)

    @action(description=_("Import from Excel"), url_path="import", permissions=["import"], icon="upload")
    def import_products(self, request: HttpRequest) -> HttpResponse:
        return catalog_pages.import_page(self, request)

    @action(description=_("Export library (import layout)"), url_path="export-library", icon="download")
    def export_library(self, request: HttpRequest) -> HttpResponse:
        merchant = getattr(request.user, "merchant", None)
        response = HttpResponse(products_export(merchant=merchant), content_type=XLSX)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="product-library-{stamp}.xlsx"'
        return response

    @action(description=_("Platform library"), url_path="platform-library", permissions=["adopt"], icon="hub")
    def platform_library(self, request: HttpRequest) -> HttpResponse:
        return catalog_pages.platform_library_page(self, request)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.has_perm("catalog.add_product") and request.user.has_perm("catalog.change_product")
        )

    def has_adopt_permission(self, request: HttpRequest) -> bool:
        # Only merchants adopt; on the platform console the platform library is the product list.
        return not is_platform(self.admin_site) and bool(request.user.has_perm("catalog.view_product"))


class CategoryForm(LibraryForm):
    class Meta:
        model = Category
        fields = sorted(library.CATEGORY_FIELDS)


@register(Category, platform_console, merchant_console)
class CategoryAdmin(LibraryAdmin):
    form = CategoryForm
    list_display = ["name", "parent", "sort_order", "product_count"]
    search_fields = ["name"]
    fields = ["name", "parent", "sort_order"]
    library_fk_fields = {"parent": selectors.library_categories}

    @display(description=_("products"))
    def product_count(self, obj: Category) -> int:
        return obj.products.count()

    def _service_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = self._cleaned(form, change)
        if change:
            library.category_update(actor=request.user, category=Category.objects.get(pk=obj.pk), data=data)
        else:
            created = library.category_create(actor=request.user, merchant=request.user.merchant, **data)  # type: ignore[union-attr]
            obj.pk = obj.id = created.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        library.category_delete(actor=request.user, category=obj)


class ManufacturerForm(LibraryForm):
    class Meta:
        model = Manufacturer
        fields = sorted(library.MANUFACTURER_FIELDS)


@register(Manufacturer, platform_console, merchant_console)
class ManufacturerAdmin(LibraryAdmin):
    form = ManufacturerForm
    list_display = ["name", "contact", "phone"]
    search_fields = ["name", "contact", "phone"]
    fields = ["name", "contact", "phone"]

    def _service_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = self._cleaned(form, change)
        if change:
            library.manufacturer_update(
                actor=request.user, manufacturer=Manufacturer.objects.get(pk=obj.pk), data=data
            )
        else:
            created = library.manufacturer_create(actor=request.user, merchant=request.user.merchant, **data)  # type: ignore[union-attr]
            obj.pk = obj.id = created.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        library.manufacturer_delete(actor=request.user, manufacturer=obj)
