"""Sub-merchant applications (进件): the merchant drafts and submits; platform staff record each of
the provider's review answers. The state machine lives here, so a console page, an API or a sync
job can only move an application along the legal paths, and every move is audited.

ID and bank account numbers are personal data: encrypted at rest, masked wherever shown, "***" in
audit rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, ensure_still_visible
from openvend.core.crypto import decrypt, encrypt
from openvend.core.errors import ConflictError, OpenVendError
from openvend.payments.choices import OnboardingState, OnboardingSubject, Provider
from openvend.payments.config_services import safe_snapshot
from openvend.payments.models import MerchantPaymentConfig, Onboarding

S = OnboardingState
DRAFT_FIELDS = (
    "provider",
    "subject_type",
    "subject_name",
    "license_number",
    "legal_person",
    "contact_name",
    "contact_phone",
    "bank_name",
)
# Which provider answers may follow which (the merchant's own moves are submit, cancel, reopen).
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    S.SUBMITTED: frozenset({S.AUDITING, S.REJECTED}),
    S.AUDITING: frozenset({S.REJECTED, S.TO_BE_CONFIRMED, S.TO_BE_SIGNED, S.FINISHED}),
    S.TO_BE_CONFIRMED: frozenset({S.REJECTED, S.TO_BE_SIGNED}),
    S.TO_BE_SIGNED: frozenset({S.REJECTED, S.FINISHED}),
}
MERCHANT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.REJECTED: frozenset({S.DRAFT, S.CANCELLED}),
}


class OnboardingErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "payments.onboarding_illegal_transition"
    INCOMPLETE = "payments.onboarding_incomplete"
    NOT_EDITABLE = "payments.onboarding_not_editable"
    MISSING_ANSWER = "payments.onboarding_missing_answer"
    SUB_MCHID_TAKEN = "payments.onboarding_sub_mchid_taken"
    NO_ONBOARDING = "payments.onboarding_not_at_this_provider"


ONBOARDING_PROVIDERS = frozenset({Provider.WECHAT, Provider.ALIPAY})


# ---------------------------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------------------------


def _digits(value: str) -> str:
    return "".join(ch for ch in value if not ch.isspace())


def mask_bank_account(number: str) -> str:
    """6222021234567891234 → 6222 **** **** 1234 (the length is not shown either)."""
    number = _digits(number)
    if not number:
        return ""
    if len(number) <= 8:
        return "**** " + number[-2:]
    return f"{number[:4]} **** **** {number[-4:]}"


def mask_id_number(number: str) -> str:
    """110101199003071234 → 110***********1234: region kept, birth date hidden."""
    number = _digits(number)
    if not number:
        return ""
    if len(number) <= 7:
        return "*" * (len(number) - 1) + number[-1:]
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def masked_id_number(onboarding: Onboarding) -> str:
    return mask_id_number(decrypt(onboarding.id_number_enc))


def masked_bank_account(onboarding: Onboarding) -> str:
    return mask_bank_account(decrypt(onboarding.bank_account_enc))


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def required_fields(subject_type: str) -> tuple[str, ...]:
    """What a provider refuses to review without. Micro merchants (小微) have no business licence."""
    common = ("subject_name", "legal_person", "contact_name", "contact_phone", "id_number", "bank_account")
    if subject_type == OnboardingSubject.MICRO:
        return (*common, "bank_name")
    return (*common, "license_number", "bank_name")


def _missing(onboarding: Onboarding) -> list[str]:
    values = {
        **{name: getattr(onboarding, name) for name in DRAFT_FIELDS},
        "id_number": onboarding.id_number_enc,
        "bank_account": onboarding.bank_account_enc,
    }
    return [name for name in required_fields(onboarding.subject_type) if not values.get(name)]


def _illegal(current: str, target: str) -> OpenVendError:
    return ConflictError(
        OnboardingErrorCode.ILLEGAL_TRANSITION,
        _("An application that is %(current)s cannot become %(target)s.")
        % {"current": S(current).label, "target": S(target).label},
    )


def check_review(onboarding: Onboarding, target: str, answer: Mapping[str, str]) -> None:
    """Raise when `target` may not follow the application's state or the provider's answer lacks
    what that state needs. Forms call this to show the refusal; `onboarding_review` calls it again."""
    if target not in REVIEW_TRANSITIONS.get(onboarding.state, frozenset()):
        raise _illegal(onboarding.state, target)
    needs = {
        S.AUDITING: ("applyment_id", _("the provider's application id")),
        S.REJECTED: ("reject_reason", _("the reason the provider gave")),
        S.TO_BE_SIGNED: ("sign_url", _("the signing link")),
        S.FINISHED: ("sub_mchid", _("the sub-merchant id issued")),
    }.get(S(target))
    if needs and not (answer.get(needs[0]) or "").strip():
        if needs[0] == "applyment_id" and onboarding.applyment_id:
            return
        message = _("Record %(what)s.") % {"what": needs[1]}
        raise OpenVendError(OnboardingErrorCode.MISSING_ANSWER, message, fields={needs[0]: [message]})
    if target == S.FINISHED:
        taken = (
            Onboarding.objects.filter(
                provider=onboarding.provider, state=S.FINISHED, sub_mchid=answer["sub_mchid"]
            )
            .exclude(pk=onboarding.pk)
            .exclude(merchant_id=onboarding.merchant_id)
        )
        if taken.exists():
            message = _("This sub-merchant id was issued to another merchant.")
            raise ConflictError(OnboardingErrorCode.SUB_MCHID_TAKEN, message, fields={"sub_mchid": [message]})


def _require_provider(onboarding: Onboarding) -> None:
    if onboarding.provider not in ONBOARDING_PROVIDERS:
        message = _("Applications are made to WeChat Pay or Alipay.")
        raise OpenVendError(OnboardingErrorCode.NO_ONBOARDING, message, fields={"provider": [message]})


def _locked(onboarding: Onboarding) -> Onboarding:
    return Onboarding.objects.select_for_update().get(pk=onboarding.pk)


def _audit(
    actor: Any, onboarding: Onboarding, before: dict[str, Any], action: str, message: str = ""
) -> None:
    audit_record(
        actor=actor,
        action=action,
        instance=onboarding,
        before=before,
        after=safe_snapshot(onboarding),
        message=message,
    )


def _require_merchant_side(actor: Any, perm: str) -> None:
    if actor is not None and (getattr(actor, "is_platform_user", False) or not actor.has_perm(perm)):
        raise PermissionDenied(_("You may not change this application."))


# ---------------------------------------------------------------------------------------------
# The merchant's side: draft, edit, submit, cancel, reopen
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def onboarding_create(
    *, actor: Any, merchant: Any, data: Mapping[str, Any], id_number: str = "", bank_account: str = ""
) -> Onboarding:
    _require_merchant_side(actor, "payments.add_onboarding")
    onboarding = Onboarding(
        merchant=merchant,
        state=S.DRAFT,
        business_code=f"OV-{merchant.code}-{uuid.uuid4().hex[:12]}",
        **{name: data[name] for name in DRAFT_FIELDS if name in data},
    )
    onboarding.id_number_enc = encrypt(_digits(id_number))
    onboarding.bank_account_enc = encrypt(_digits(bank_account))
    _require_provider(onboarding)
    onboarding.full_clean()
    onboarding.save()
    ensure_still_visible(actor=actor, instance=onboarding, action="add")
    audit_record(actor=actor, action=AuditAction.CREATE, instance=onboarding, after=safe_snapshot(onboarding))
    return onboarding


@transaction.atomic
def onboarding_update(
    *,
    actor: Any,
    onboarding: Onboarding,
    data: Mapping[str, Any],
    id_number: str = "",
    bank_account: str = "",
) -> Onboarding:
    """Edit a draft. Empty `id_number` / `bank_account` keep what is stored."""
    _require_merchant_side(actor, "payments.change_onboarding")
    onboarding = _locked(onboarding)
    if onboarding.state != S.DRAFT:
        raise ConflictError(
            OnboardingErrorCode.NOT_EDITABLE,
            _("Only a draft can be edited; reopen a rejected application first."),
        )
    before = safe_snapshot(onboarding)
    replaced = []
    for name in DRAFT_FIELDS:
        if name in data:
            setattr(onboarding, name, data[name])
    if _digits(id_number):
        onboarding.id_number_enc = encrypt(_digits(id_number))
        replaced.append("id_number")
    if _digits(bank_account):
        onboarding.bank_account_enc = encrypt(_digits(bank_account))
        replaced.append("bank_account")
    _require_provider(onboarding)
    onboarding.full_clean()
    onboarding.save()
    ensure_still_visible(actor=actor, instance=onboarding, action="change")
    after = safe_snapshot(onboarding)
    if before != after or replaced:
        message = _("Personal data replaced: %(names)s") % {"names": ", ".join(replaced)} if replaced else ""
        _audit(actor, onboarding, before, AuditAction.UPDATE, message)
    return onboarding


def _merchant_move(actor: Any, onboarding: Onboarding, target: str) -> Onboarding:
    _require_merchant_side(actor, "payments.change_onboarding")
    onboarding = _locked(onboarding)
    if target not in MERCHANT_TRANSITIONS.get(onboarding.state, frozenset()):
        raise _illegal(onboarding.state, target)
    before = safe_snapshot(onboarding)
    if target == S.SUBMITTED:
        missing = _missing(onboarding)
        if missing:
            labels = ", ".join(str(_field_label(name)) for name in missing)
            raise OpenVendError(
                OnboardingErrorCode.INCOMPLETE,
                _("Fill in before submitting: %(fields)s.") % {"fields": labels},
                fields={name: [_("Required before submitting.")] for name in missing},
            )
        onboarding.submitted_at = timezone.now()
    if target == S.DRAFT:
        onboarding.reject_reason = ""
    onboarding.state = target
    onboarding.save()
    ensure_still_visible(actor=actor, instance=onboarding, action="change")
    _audit(actor, onboarding, before, AuditAction.UPDATE)
    return onboarding


def _field_label(name: str) -> str:
    if name == "id_number":
        return _("ID number")
    if name == "bank_account":
        return _("bank account")
    field: Any = Onboarding._meta.get_field(name)
    return str(field.verbose_name)


@transaction.atomic
def onboarding_submit(*, actor: Any, onboarding: Onboarding) -> Onboarding:
    return _merchant_move(actor, onboarding, S.SUBMITTED)


@transaction.atomic
def onboarding_cancel(*, actor: Any, onboarding: Onboarding) -> Onboarding:
    return _merchant_move(actor, onboarding, S.CANCELLED)


@transaction.atomic
def onboarding_reopen(*, actor: Any, onboarding: Onboarding) -> Onboarding:
    """A rejected application goes back to draft so the merchant can correct and resubmit it."""
    return _merchant_move(actor, onboarding, S.DRAFT)


# ---------------------------------------------------------------------------------------------
# The platform's side: record the provider's review answers
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def onboarding_review(
    *,
    actor: Any,
    onboarding: Onboarding,
    target: str,
    applyment_id: str = "",
    reject_reason: str = "",
    sign_url: str = "",
    sub_mchid: str = "",
) -> Onboarding:
    """Move the application to the provider's answer `target`. Finishing writes the issued id into
    the merchant's payment configuration (WeChat sub_mchid or Alipay smid) in the same transaction."""
    if actor is not None and not (
        getattr(actor, "is_platform_user", False) and actor.has_perm("payments.review_onboarding")
    ):
        raise PermissionDenied(_("Only platform reviewers record the provider's answers."))
    onboarding = _locked(onboarding)
    answer = {
        "applyment_id": applyment_id.strip(),
        "reject_reason": reject_reason.strip(),
        "sign_url": sign_url.strip(),
        "sub_mchid": sub_mchid.strip(),
    }
    check_review(onboarding, target, answer)
    before = safe_snapshot(onboarding)
    if answer["applyment_id"]:
        onboarding.applyment_id = answer["applyment_id"]
    if target == S.REJECTED:
        onboarding.reject_reason = answer["reject_reason"]
    if target == S.TO_BE_SIGNED:
        onboarding.sign_url = answer["sign_url"]
    if target == S.FINISHED:
        onboarding.sub_mchid = answer["sub_mchid"]
        onboarding.finished_at = timezone.now()
    onboarding.state = target
    try:
        onboarding.full_clean()
    except ValidationError as exc:
        raise OpenVendError(
            OnboardingErrorCode.MISSING_ANSWER, " ".join(exc.messages), fields=exc.message_dict
        ) from None
    onboarding.save()
    _audit(actor, onboarding, before, AuditAction.REVIEW)
    if target == S.FINISHED:
        _apply_issued_id(actor, onboarding)
    return onboarding


def _apply_issued_id(actor: Any, onboarding: Onboarding) -> None:
    config = (
        MerchantPaymentConfig.objects.select_for_update().filter(merchant_id=onboarding.merchant_id).first()
    )
    before = safe_snapshot(config) if config else None
    config = config or MerchantPaymentConfig(merchant_id=onboarding.merchant_id)
    if onboarding.provider == Provider.WECHAT:
        config.wechat_sub_mchid = onboarding.sub_mchid
    else:
        config.alipay_smid = onboarding.sub_mchid
    config.full_clean()
    config.save()
    after = safe_snapshot(config)
    message = _("Issued by application %(code)s.") % {"code": onboarding.business_code}
    if before is None:
        audit_record(actor=actor, action=AuditAction.CREATE, instance=config, after=after, message=message)
    elif before != after:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=config,
            before=before,
            after=after,
            message=message,
        )
