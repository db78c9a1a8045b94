"""Console pages of sub-merchant applications (进件): merchants draft, submit, cancel and reopen
them; platform staff record each answer of the provider's review."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from openvend.consoles.admin import payment_config_forms as forms
from openvend.consoles.admin.base import is_platform, register
from openvend.consoles.admin.payment_pages import PaymentConsoleAdmin
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError
from openvend.payments import onboarding_services as onboarding
from openvend.payments.choices import OnboardingState
from openvend.payments.models import Onboarding

ONBOARDING_COLOURS = {
    OnboardingState.DRAFT: "info",
    OnboardingState.SUBMITTED: "info",
    OnboardingState.AUDITING: "warning",
    OnboardingState.REJECTED: "danger",
    OnboardingState.TO_BE_CONFIRMED: "warning",
    OnboardingState.TO_BE_SIGNED: "warning",
    OnboardingState.FINISHED: "success",
    OnboardingState.CANCELLED: "info",
}


@register(Onboarding, platform_console, merchant_console)
class OnboardingAdmin(PaymentConsoleAdmin):
    form = forms.OnboardingForm
    list_display = [
        "business_code",
        "subject_name",
        "provider",
        "subject_type",
        "state_badge",
        "submitted_at",
        "sub_mchid",
    ]
    list_filter = ["state", "provider", "subject_type"]
    search_fields = ["business_code", "subject_name", "applyment_id", "sub_mchid"]
    review_fields = [
        "business_code",
        "state_badge",
        "applyment_id",
        "reject_reason",
        "sign_link",
        "sub_mchid",
        "submitted_at",
        "finished_at",
    ]
    readonly_fields = [*review_fields, "id_number_masked", "bank_account_masked"]
    actions_detail = ["submit_application", "cancel_application", "reopen_application", "record_answer"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        draft = list(onboarding.DRAFT_FIELDS)
        if self._editable(request, obj):
            applicant = [*draft[:4], "id_number", *draft[4:], "bank_account"]
        else:
            applicant = [*draft[:4], "id_number_masked", *draft[4:], "bank_account_masked"]
        fieldsets: list[Any] = [(_("Applicant"), {"fields": applicant})]
        if obj is not None:
            fieldsets.append((_("Review"), {"fields": self.review_fields}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self._editable(request, obj):
            return self.readonly_fields
        return [*self.readonly_fields, *onboarding.DRAFT_FIELDS]

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        return not is_platform(self.admin_site) and (obj is None or obj.state == OnboardingState.DRAFT)

    @display(description=_("state"), label=ONBOARDING_COLOURS)
    def state_badge(self, obj: Onboarding) -> Any:
        return obj.state, obj.get_state_display()

    @display(description=_("ID number"))
    def id_number_masked(self, obj: Onboarding) -> str:
        return onboarding.masked_id_number(obj) or "—"

    @display(description=_("bank account"))
    def bank_account_masked(self, obj: Onboarding) -> str:
        return onboarding.masked_bank_account(obj) or "—"

    @display(description=_("signing link"))
    def sign_link(self, obj: Onboarding) -> Any:
        if not obj.sign_url:
            return "—"
        return format_html(
            '<a class="text-primary-600" href="{}" rel="noreferrer" target="_blank">{}</a>',
            obj.sign_url,
            obj.sign_url,
        )

    # -- permissions -------------------------------------------------------------------------------

    def _merchant_perm(self, request: HttpRequest, perm: str) -> bool:
        return not is_platform(self.admin_site) and bool(request.user.has_perm(f"payments.{perm}_onboarding"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._merchant_perm(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._merchant_perm(request, "change") and (obj is None or obj.state == OnboardingState.DRAFT)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cancel instead: the application number may already be known to the provider

    def _state_of(self, request: HttpRequest, object_id: Any) -> str:
        """The application's state; another merchant's (or a missing) one is a 404 even where the
        action's permission is checked before its view runs."""
        found = self.get_queryset(request).filter(pk=object_id).values_list("state", flat=True).first()
        if found is None:
            raise Http404
        return str(found)

    def has_submit_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return (
            self._merchant_perm(request, "change")
            and self._state_of(request, object_id) == OnboardingState.DRAFT
        )

    def has_cancel_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._merchant_perm(request, "change") and self._state_of(request, object_id) in (
            OnboardingState.DRAFT,
            OnboardingState.REJECTED,
        )

    def has_reopen_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return (
            self._merchant_perm(request, "change")
            and self._state_of(request, object_id) == OnboardingState.REJECTED
        )

    def has_review_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return (
            is_platform(self.admin_site)
            and bool(request.user.has_perm("payments.review_onboarding"))
            and self._state_of(request, object_id) in onboarding.REVIEW_TRANSITIONS
        )

    # -- writes ------------------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user: Any = request.user
        data = {
            name: form.cleaned_data[name] for name in onboarding.DRAFT_FIELDS if name in form.cleaned_data
        }
        secrets = {
            "id_number": form.cleaned_data.get("id_number") or "",
            "bank_account": form.cleaned_data.get("bank_account") or "",
        }
        if change:
            onboarding.onboarding_update(
                actor=user, onboarding=Onboarding.objects.get(pk=obj.pk), data=data, **secrets
            )
            return
        created = onboarding.onboarding_create(actor=user, merchant=user.merchant, data=data, **secrets)
        self._adopt(obj, created)

    def _confirm(
        self,
        request: HttpRequest,
        object_id: Any,
        move: Any,
        *,
        title: Any,
        intro: Any,
        done: Any,
        danger: bool = False,
    ) -> HttpResponse:
        application = get_object_or_404(self.get_queryset(request), pk=object_id)
        if request.method == "POST":
            try:
                move(actor=request.user, onboarding=application)
            except (OpenVendError, PermissionDenied) as exc:
                self.message_user(request, str(getattr(exc, "message", exc)), messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
            return HttpResponseRedirect(self._change_url(application))
        return self._page(
            request,
            title,
            self._change_url(application),
            intro=intro,
            facts=self._facts(application),
            submit_label=title,
            danger=danger,
        )

    def _facts(self, application: Onboarding) -> list[tuple[Any, Any]]:
        return [
            (_("application number"), application.business_code),
            (_("subject name"), application.subject_name),
            (_("provider"), application.get_provider_display()),
            (_("state"), application.get_state_display()),
        ]

    @action(description=_("Submit for review"), url_path="submit", permissions=["submit"])
    def submit_application(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._confirm(
            request,
            object_id,
            onboarding.onboarding_submit,
            title=_("Submit for review"),
            intro=_("After submitting, the application cannot be edited unless the provider rejects it."),
            done=_("Application submitted."),
        )

    @action(description=_("Cancel application"), url_path="cancel", permissions=["cancel"])
    def cancel_application(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._confirm(
            request,
            object_id,
            onboarding.onboarding_cancel,
            title=_("Cancel application"),
            intro=_("A cancelled application stays on record and cannot be resumed."),
            done=_("Application cancelled."),
            danger=True,
        )

    @action(description=_("Correct and resubmit"), url_path="reopen", permissions=["reopen"])
    def reopen_application(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._confirm(
            request,
            object_id,
            onboarding.onboarding_reopen,
            title=_("Correct and resubmit"),
            intro=_("The application goes back to draft so its details can be corrected."),
            done=_("The application is a draft again."),
        )

    @action(description=_("Record the provider's answer"), url_path="review", permissions=["review"])
    def record_answer(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        application = get_object_or_404(self.get_queryset(request), pk=object_id)
        form = forms.OnboardingReviewForm(request.POST or None, application=application)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                data = form.cleaned_data
                try:
                    onboarding.onboarding_review(
                        actor=request.user,
                        onboarding=application,
                        target=data["target"],
                        applyment_id=data["applyment_id"],
                        reject_reason=data["reject_reason"],
                        sign_url=data["sign_url"],
                        sub_mchid=data["sub_mchid"],
                    )
                except OpenVendError as exc:
                    forms.add_service_error(form, exc)
                except PermissionDenied as exc:
                    form.add_error(None, str(exc))
                else:
                    self.message_user(request, _("The provider's answer is recorded."), messages.SUCCESS)
                    return HttpResponseRedirect(self._change_url(application))
            status = 400
        return self._page(
            request,
            _("Record the provider's answer"),
            self._change_url(application),
            intro=_(
                "Rejected needs the reason; awaiting signing needs the signing link; finished needs the "
                "sub-merchant id, which is then written into the merchant's payment configuration."
            ),
            facts=self._facts(application),
            form=form,
            submit_label=_("Record"),
            status=status,
        )
