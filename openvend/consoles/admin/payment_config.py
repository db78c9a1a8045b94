"""Console pages of the payment configuration: the platform's provider accounts, each merchant's
payment identity and the methods each site offers; sub-merchant applications (进件) and their review
are in `payment_onboarding`, registered by importing this module. Every write goes through
`payments.config_services` / `payments.onboarding_services`; secrets go in through write-only
inputs and never come back out (pages show "configured" and a fingerprint)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import action, display

from openvend.consoles.admin import payment_config_forms as forms
from openvend.consoles.admin import payment_onboarding  # noqa: F401 (registers)
from openvend.consoles.admin.base import is_platform, register
from openvend.consoles.admin.payment_pages import PaymentConsoleAdmin, secret_state
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.merchants.models import Site
from openvend.payments import config_services as config
from openvend.payments.models import MerchantPaymentConfig, ProviderAccount, SitePaymentMethod

# ---------------------------------------------------------------------------------------------
# Platform console: provider accounts
# ---------------------------------------------------------------------------------------------


@register(ProviderAccount, platform_console)
class ProviderAccountAdmin(PaymentConsoleAdmin):
    merchant_field = None
    form = forms.ProviderAccountForm
    list_display = ["provider", "mch_id", "app_id", "base_url", "gateway_mode", "signing_key", "is_active"]
    list_filter = ["provider", "is_active"]
    readonly_fields = ["signing_key", "api_key_state", "oauth_secret_state", "updated_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "provider",
                    "base_url",
                    "mch_id",
                    "app_id",
                    "payscore_service_id",
                    "notify_url",
                    "is_active",
                ]
            },
        ),
        (
            _("Request signing"),
            {
                "fields": [
                    "signing_key",
                    "private_key_file",
                    "private_key_text",
                    "certificate_file",
                    "certificate_text",
                    "key_serial_no",
                ]
            },
        ),
        (_("Notification decryption"), {"fields": ["api_key_state", "api_key"]}),
        (
            _("Gateway verification"),
            {
                "fields": [
                    "gateway_mode",
                    "gateway_public_key",
                    "gateway_public_key_id",
                    "gateway_certificates",
                ]
            },
        ),
        (_("Shopper sign-in (OAuth)"), {"fields": ["oauth_url", "oauth_secret_state", "oauth_secret"]}),
    ]
    actions_detail = ["test_connection"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        user: Any = request.user
        if (
            is_platform(self.admin_site)
            and user.is_platform_user
            and user.has_perm("payments.view_provideraccount")
        ):
            return ProviderAccount.objects.all()
        return ProviderAccount.objects.none()

    @display(description=_("signing key"))
    def signing_key(self, obj: ProviderAccount) -> Any:
        return secret_state(obj.private_key_enc, config.stored_key_fingerprint(obj.private_key_enc))

    @display(description=_("API v3 key"))
    def api_key_state(self, obj: ProviderAccount) -> Any:
        return secret_state(obj.api_key_enc)

    @display(description=_("OAuth AppSecret"))
    def oauth_secret_state(self, obj: ProviderAccount) -> Any:
        return secret_state(obj.oauth_secret_enc)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # switch an account off instead: payments in flight still need it

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = {
            name: form.cleaned_data[name]
            for name in config.PROVIDER_ACCOUNT_FIELDS
            if name in form.cleaned_data
        }
        saved = config.provider_account_save(
            actor=request.user,
            account=ProviderAccount.objects.get(pk=obj.pk) if change else None,
            data=data,
            private_key=form.pem("private_key"),
            certificate=form.pem("certificate"),
            api_key=form.cleaned_data.get("api_key") or "",
            oauth_secret=form.cleaned_data.get("oauth_secret") or "",
        )
        self._adopt(obj, saved)

    def has_test_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return bool(request.user.has_perm("payments.view_provideraccount"))

    @action(description=_("Test connection"), url_path="test-connection", permissions=["test"])
    def test_connection(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        account = get_object_or_404(self.get_queryset(request), pk=object_id)
        result = config.provider_account_test(account=account) if request.method == "POST" else None
        return self._page(
            request,
            _("Test connection"),
            self._change_url(account),
            intro=_(
                "Queries an order number that does not exist. Success means the gateway accepted our "
                "signature and its answer passed our verification. Nothing is created or charged."
            ),
            facts=[(_("provider"), account.get_provider_display()), (_("gateway address"), account.base_url)],
            result=result,
            submit_label=_("Run the test"),
        )


# ---------------------------------------------------------------------------------------------
# Merchant console: the merchant's payment identity
# ---------------------------------------------------------------------------------------------


@register(MerchantPaymentConfig, platform_console, merchant_console)
class MerchantPaymentConfigAdmin(PaymentConsoleAdmin):
    form = forms.MerchantPaymentConfigForm
    list_display = ["__str__", "wechat_sub_mchid", "wechat_sub_appid", "alipay_smid", "own_key", "updated_at"]
    search_fields = ["wechat_sub_mchid", "alipay_smid"]
    readonly_fields = ["own_key", "own_key_serial_no", "own_certificate_state", "app_auth_token_state"]
    fieldsets = [
        (_("WeChat Pay"), {"fields": ["wechat_sub_mchid", "wechat_sub_appid"]}),
        (_("Alipay"), {"fields": ["alipay_smid", "app_auth_token_state", "alipay_app_auth_token"]}),
        (_("Pay after"), {"fields": ["pay_after_threshold_fen"]}),
        (
            _("Own API certificate (direct mode, optional)"),
            {
                "fields": [
                    "own_key",
                    "own_private_key_file",
                    "own_private_key_text",
                    "own_certificate_state",
                    "own_key_serial_no",
                    "own_certificate_file",
                    "own_certificate_text",
                ]
            },
        ),
    ]

    @display(description=_("own private key"))
    def own_key(self, obj: MerchantPaymentConfig) -> Any:
        return secret_state(obj.own_private_key_enc, config.stored_key_fingerprint(obj.own_private_key_enc))

    @display(description=_("own certificate"))
    def own_certificate_state(self, obj: MerchantPaymentConfig) -> Any:
        return secret_state(obj.own_certificate, config.certificate_fingerprint(obj.own_certificate))

    @display(description=_("Alipay app_auth_token"))
    def app_auth_token_state(self, obj: MerchantPaymentConfig) -> Any:
        return secret_state(obj.alipay_app_auth_token_enc)

    def has_add_permission(self, request: HttpRequest) -> bool:
        if is_platform(self.admin_site) or not super().has_add_permission(request):
            return False
        user: Any = request.user
        return not MerchantPaymentConfig.objects.filter(merchant_id=user.merchant_id).exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The platform sees merchants' configurations; ids are filled by finishing an application.
        return not is_platform(self.admin_site) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user: Any = request.user
        data = {
            name: form.cleaned_data[name]
            for name in config.MERCHANT_CONFIG_FIELDS
            if name in form.cleaned_data
        }
        saved = config.merchant_config_save(
            actor=user,
            merchant=user.merchant,
            data=data,
            own_private_key=form.pem("own_private_key"),
            own_certificate=form.pem("own_certificate"),
            app_auth_token=form.cleaned_data.get("alipay_app_auth_token") or "",
        )
        self._adopt(obj, saved)


# ---------------------------------------------------------------------------------------------
# Merchant console: what each site offers
# ---------------------------------------------------------------------------------------------


@register(SitePaymentMethod, platform_console, merchant_console)
class SitePaymentMethodAdmin(PaymentConsoleAdmin):
    list_display = ["site", "method", "enabled", "updated_at"]
    list_filter = ["method", "enabled", "site"]
    search_fields = ["site__name", "site__code"]
    list_select_related = ["site"]
    fields = ["site", "method", "enabled"]
    actions = ["offer_selected", "withdraw_selected"]
    actions_list = ["offer_on_sites"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["site", "method"] if obj is not None else []

    def _merchant_side(self, request: HttpRequest, perm: str) -> bool:
        return not is_platform(self.admin_site) and bool(
            request.user.has_perm(f"payments.{perm}_sitepaymentmethod")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._merchant_side(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._merchant_side(request, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._merchant_side(request, "delete")

    def has_offer_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._merchant_side(request, "add") and self._merchant_side(request, "change")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            config.site_method_rows_set(
                actor=request.user, rows=[SitePaymentMethod.objects.get(pk=obj.pk)], enabled=obj.enabled
            )
            return
        config.site_methods_set(
            actor=request.user, sites=[obj.site], methods=[obj.method], enabled=obj.enabled
        )
        self._adopt(obj, SitePaymentMethod.objects.get(site=obj.site, method=obj.method))

    def _switch(self, request: HttpRequest, queryset: QuerySet, enabled: bool) -> None:
        rows = queryset.filter(pk__in=SitePaymentMethod.objects.restrict(request.user, "change"))
        try:
            changed = config.site_method_rows_set(actor=request.user, rows=list(rows), enabled=enabled)
        except (OpenVendError, PermissionDenied) as exc:
            self.message_user(request, str(getattr(exc, "message", exc)), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)d row changed.", "%(count)d rows changed.", changed) % {"count": changed},
        )

    @action(description=_("Offer the selected methods"), permissions=["offer"])
    def offer_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._switch(request, queryset, True)

    @action(description=_("Stop offering the selected methods"), permissions=["offer"])
    def withdraw_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._switch(request, queryset, False)

    @action(description=_("Set methods on sites"), url_path="offer-on-sites", permissions=["offer"])
    def offer_on_sites(self, request: HttpRequest) -> HttpResponse:
        sites = Site.objects.restrict(request.user, "view").order_by("name")
        form = forms.SiteMethodsForm(request.POST or None, sites=sites)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                changed = config.site_methods_set(
                    actor=request.user, sites=data["sites"], methods=data["methods"], enabled=data["enabled"]
                )
            except (OpenVendError, PermissionDenied) as exc:
                form.add_error(None, str(getattr(exc, "message", exc)))
            else:
                self.message_user(
                    request,
                    ngettext("%(count)d site method changed.", "%(count)d site methods changed.", changed)
                    % {"count": changed},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:payments_sitepaymentmethod_changelist")
                )
        return self._page(
            request,
            _("Set methods on sites"),
            reverse(f"{self.admin_site.name}:payments_sitepaymentmethod_changelist"),
            intro=_("Choose sites and the payment methods their shoppers may use."),
            form=form,
            submit_label=_("Apply"),
        )
