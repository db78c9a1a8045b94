"""The two consoles: the platform's and the merchants'. Same models, different doors and columns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.forms import AuthenticationForm
from unfold.sites import UnfoldAdminSite

from openvend.consoles.export import export_xlsx


class _ConsoleLoginForm(AuthenticationForm):
    for_platform: bool = False

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Incorrect username or password. Note that both fields may be case-sensitive."),
        "wrong_console": _("This account cannot sign in to this console."),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        # Django admin would demand is_staff; our consoles ask which side the user belongs to.
        if not user.is_active:
            raise forms.ValidationError(self.error_messages["inactive"], code="inactive")
        if user.is_platform_user != self.for_platform:
            raise forms.ValidationError(self.error_messages["wrong_console"], code="wrong_console")


class PlatformLoginForm(_ConsoleLoginForm):
    for_platform = True


class MerchantLoginForm(_ConsoleLoginForm):
    for_platform = False


class _Console(UnfoldAdminSite):
    index_template = "consoles/dashboard.html"

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Unfold's login form posts back to the page's own URL: without ?next= a successful
        # sign-in would land on Django's generic profile URL instead of this console.
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            query = request.GET.copy()
            query[REDIRECT_FIELD_NAME] = reverse(f"{self.name}:index")
            request.GET = query  # type: ignore[assignment]
        return super().login(request, extra_context)


class PlatformConsole(_Console):
    settings_name = "UNFOLD_PLATFORM"
    login_form = PlatformLoginForm
    site_title = _("OpenVend platform console")
    site_header = _("OpenVend platform console")
    index_title = _("Platform overview")
    is_platform = True

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_authenticated and user.is_platform_user)


class MerchantConsole(_Console):
    settings_name = "UNFOLD"
    login_form = MerchantLoginForm
    site_title = _("OpenVend merchant console")
    site_header = _("OpenVend merchant console")
    index_title = _("Merchant overview")
    is_platform = False

    def has_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(
            user.is_active
            and user.is_authenticated
            and user.merchant is not None
            and user.merchant.is_operating
        )


platform_console = PlatformConsole(name="platform")
merchant_console = MerchantConsole(name="console")
for _console in (platform_console, merchant_console):
    _console.add_action(export_xlsx, "export_xlsx")
