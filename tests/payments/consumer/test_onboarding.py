"""Sub-merchant applications (进件): the merchant drafts and submits, platform staff record the
provider's answers; only legal moves happen, each audited; personal numbers are encrypted and masked."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from openvend.audit.models import AuditLogEntry
from openvend.core.crypto import decrypt
from openvend.core.errors import OpenVendError
from openvend.payments import onboarding_services as onboarding
from openvend.payments.choices import OnboardingState as S
from openvend.payments.models import MerchantPaymentConfig, Onboarding
from tests.conftest import console_login
from tests.payments.consumer.conftest import in_english
from tests.world import PASSWORD

pytestmark = pytest.mark.django_db

ID_NUMBER = "110101199003071234"
BANK_ACCOUNT = "6222021234567891234"
DRAFT = {
    "provider": "wechat",
    "subject_type": "individual",
    "subject_name": "徐汇便利店",
    "license_number": "92310000MA1K00001X",
    "legal_person": "张三",
    "contact_name": "张三",
    "contact_phone": "13800001234",
    "bank_name": "中国工商银行",
}


def _application(world: Any, **overrides: Any) -> Onboarding:
    return onboarding.onboarding_create(
        actor=world.user("merchant_admin"),
        merchant=world.merchant,
        data={**DRAFT, **overrides},
        id_number=ID_NUMBER,
        bank_account=BANK_ACCOUNT,
    )


def _submitted(world: Any, **overrides: Any) -> Onboarding:
    return onboarding.onboarding_submit(
        actor=world.user("merchant_admin"), onboarding=_application(world, **overrides)
    )


# -- masking -------------------------------------------------------------------------------------------


def test_masking() -> None:
    assert onboarding.mask_bank_account("6222021234567891234") == "6222 **** **** 1234"
    assert onboarding.mask_bank_account("6222 0212 3456 7891 234") == "6222 **** **** 1234"
    assert onboarding.mask_bank_account("12345678") == "**** 78"
    assert onboarding.mask_bank_account("") == ""
    assert onboarding.mask_id_number("110101199003071234") == "110***********1234"
    assert onboarding.mask_id_number("11010119900307123X") == "110***********123X"
    assert onboarding.mask_id_number("") == ""


def test_personal_numbers_are_encrypted_and_audited_only_as_stars(world_a: Any, payment_roles: None) -> None:
    application = _application(world_a)
    assert application.id_number_enc.startswith("enc1:") and ID_NUMBER not in application.id_number_enc
    assert (
        application.bank_account_enc.startswith("enc1:") and BANK_ACCOUNT not in application.bank_account_enc
    )
    assert decrypt(application.id_number_enc) == ID_NUMBER
    assert onboarding.masked_bank_account(application) == "6222 **** **** 1234"
    row = AuditLogEntry.objects.get(object_type="payments.onboarding", action="create")
    assert row.after["id_number_enc"] == "***" and row.after["bank_account_enc"] == "***"
    assert row.after["state"] == "draft"
    text = str(row.after)
    assert ID_NUMBER not in text and BANK_ACCOUNT not in text and "enc1:" not in text


def test_console_shows_numbers_masked_only(client: Any, world_a: Any, payment_roles: None) -> None:
    application = _submitted(world_a)
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    page = client.get(f"/console/payments/onboarding/{application.pk}/change/").content.decode()
    assert "6222 **** **** 1234" in page and "110***********1234" in page
    assert BANK_ACCOUNT not in page and ID_NUMBER not in page


def test_merchant_creates_and_submits_through_the_console(
    client: Any, world_a: Any, payment_roles: None
) -> None:
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    response = client.post(
        "/console/payments/onboarding/add/",
        {**DRAFT, "id_number": "110101 19900307 1234", "bank_account": "6222 0212 3456 7891 234"},
    )
    assert response.status_code == 302, response.content.decode()
    application = Onboarding.objects.get(merchant=world_a.merchant)
    assert application.state == S.DRAFT
    assert decrypt(application.bank_account_enc) == BANK_ACCOUNT
    assert application.business_code.startswith("OV-alpha-")
    page = client.get(f"/console/payments/onboarding/{application.pk}/submit/")
    assert page.status_code == 200
    assert client.post(f"/console/payments/onboarding/{application.pk}/submit/").status_code == 302
    application.refresh_from_db()
    assert application.state == S.SUBMITTED and application.submitted_at is not None
    # A submitted application is read-only for the merchant.
    assert (
        client.post(
            f"/console/payments/onboarding/{application.pk}/change/", {**DRAFT, "subject_name": "改名"}
        ).status_code
        == 403
    )
    application.refresh_from_db()
    assert application.subject_name == "徐汇便利店"


# -- the legal path --------------------------------------------------------------------------------------


def test_the_whole_review_fills_the_sub_merchant_id(
    world_a: Any, platform_admin: Any, payment_roles: None
) -> None:
    application = _submitted(world_a)
    reviewer = platform_admin
    onboarding.onboarding_review(
        actor=reviewer, onboarding=application, target=S.AUDITING, applyment_id="2000002124775691"
    )
    onboarding.onboarding_review(actor=reviewer, onboarding=application, target=S.TO_BE_CONFIRMED)
    onboarding.onboarding_review(
        actor=reviewer,
        onboarding=application,
        target=S.TO_BE_SIGNED,
        sign_url="https://pay.weixin.qq.com/sign/abc",
    )
    finished = onboarding.onboarding_review(
        actor=reviewer, onboarding=application, target=S.FINISHED, sub_mchid="1900000109"
    )
    assert finished.state == S.FINISHED and finished.finished_at is not None
    assert finished.applyment_id == "2000002124775691"
    assert finished.sign_url == "https://pay.weixin.qq.com/sign/abc"
    config = MerchantPaymentConfig.objects.get(merchant=world_a.merchant)
    assert config.wechat_sub_mchid == "1900000109" and config.alipay_smid == ""

    reviews = AuditLogEntry.objects.filter(object_type="payments.onboarding", action="review").order_by("id")
    assert [(r.before["state"], r.after["state"]) for r in reviews] == [
        ("submitted", "auditing"),
        ("auditing", "to_be_confirmed"),
        ("to_be_confirmed", "to_be_signed"),
        ("to_be_signed", "finished"),
    ]
    assert reviews.last().after["sub_mchid"] == "1900000109"
    assert all(r.actor_id == reviewer.pk for r in reviews)
    created = AuditLogEntry.objects.get(object_type="payments.merchantpaymentconfig", action="create")
    assert created.after["wechat_sub_mchid"] == "1900000109"
    assert created.merchant_id == world_a.merchant.pk


def test_finishing_an_alipay_application_fills_the_smid(
    world_a: Any, platform_admin: Any, payment_roles: None
) -> None:
    application = _submitted(world_a, provider="alipay", subject_type="micro", license_number="")
    onboarding.onboarding_review(
        actor=platform_admin, onboarding=application, target=S.AUDITING, applyment_id="A1"
    )
    onboarding.onboarding_review(
        actor=platform_admin, onboarding=application, target=S.FINISHED, sub_mchid="2088000000000909"
    )
    config = MerchantPaymentConfig.objects.get(merchant=world_a.merchant)
    assert config.alipay_smid == "2088000000000909" and config.wechat_sub_mchid == ""


def test_rejected_application_is_corrected_and_resubmitted(
    world_a: Any, platform_admin: Any, payment_roles: None
) -> None:
    admin = world_a.user("merchant_admin")
    application = _submitted(world_a)
    onboarding.onboarding_review(
        actor=platform_admin, onboarding=application, target=S.AUDITING, applyment_id="X1"
    )
    onboarding.onboarding_review(
        actor=platform_admin, onboarding=application, target=S.REJECTED, reject_reason="营业执照照片不清晰"
    )
    application.refresh_from_db()
    assert application.state == S.REJECTED and application.reject_reason == "营业执照照片不清晰"
    onboarding.onboarding_reopen(actor=admin, onboarding=application)
    onboarding.onboarding_update(
        actor=admin, onboarding=application, data={"license_number": "92310000MA1K00002X"}
    )
    resubmitted = onboarding.onboarding_submit(actor=admin, onboarding=application)
    assert resubmitted.state == S.SUBMITTED and resubmitted.reject_reason == ""
    assert resubmitted.license_number == "92310000MA1K00002X"


# -- refusals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (S.SUBMITTED, S.FINISHED),
        (S.SUBMITTED, S.TO_BE_SIGNED),
        (S.DRAFT, S.AUDITING),
        (S.FINISHED, S.REJECTED),
        (S.CANCELLED, S.AUDITING),
    ],
)
def test_illegal_review_moves_are_refused_and_change_nothing(
    world_a: Any, platform_admin: Any, payment_roles: None, start: str, target: str
) -> None:
    application = _application(world_a)
    Onboarding.objects.filter(pk=application.pk).update(state=start)
    before = AuditLogEntry.objects.count()
    with pytest.raises(OpenVendError) as refused:
        onboarding.onboarding_review(
            actor=platform_admin,
            onboarding=application,
            target=target,
            applyment_id="A1",
            reject_reason="r",
            sign_url="https://example.com/s",
            sub_mchid="1900000109",
        )
    assert refused.value.code == "payments.onboarding_illegal_transition"
    assert str(S(start).label) in refused.value.message and str(S(target).label) in refused.value.message
    application.refresh_from_db()
    assert application.state == start and application.sub_mchid == "" and application.applyment_id == ""
    assert AuditLogEntry.objects.count() == before
    assert not MerchantPaymentConfig.objects.exists()


@pytest.mark.parametrize(
    ("target", "field"),
    [(S.REJECTED, "reject_reason"), (S.TO_BE_SIGNED, "sign_url"), (S.FINISHED, "sub_mchid")],
)
def test_an_answer_without_what_it_needs_is_refused(
    world_a: Any, platform_admin: Any, payment_roles: None, target: str, field: str
) -> None:
    application = _submitted(world_a)
    onboarding.onboarding_review(
        actor=platform_admin, onboarding=application, target=S.AUDITING, applyment_id="A1"
    )
    with pytest.raises(OpenVendError) as refused:
        onboarding.onboarding_review(actor=platform_admin, onboarding=application, target=target)
    assert refused.value.code == "payments.onboarding_missing_answer"
    assert list(refused.value.fields) == [field]
    application.refresh_from_db()
    assert application.state == S.AUDITING


def test_submitting_an_incomplete_draft_is_refused(world_a: Any, payment_roles: None) -> None:
    application = onboarding.onboarding_create(
        actor=world_a.user("merchant_admin"), merchant=world_a.merchant, data={**DRAFT, "license_number": ""}
    )
    with pytest.raises(OpenVendError) as refused:
        onboarding.onboarding_submit(actor=world_a.user("merchant_admin"), onboarding=application)
    assert refused.value.code == "payments.onboarding_incomplete"
    assert set(refused.value.fields) == {"id_number", "bank_account", "license_number"}
    application.refresh_from_db()
    assert application.state == S.DRAFT and application.submitted_at is None


def test_the_wallet_takes_no_applications(world_a: Any, payment_roles: None) -> None:
    with pytest.raises(OpenVendError) as refused:
        _application(world_a, provider="wallet")
    assert refused.value.code == "payments.onboarding_not_at_this_provider"
    assert not Onboarding.objects.exists()


def test_a_micro_merchant_needs_no_licence(world_a: Any, payment_roles: None) -> None:
    submitted = _submitted(world_a, subject_type="micro", license_number="")
    assert submitted.state == S.SUBMITTED


def test_merchant_staff_cannot_record_answers_and_reviewers_cannot_submit(
    world_a: Any, platform_admin: Any, payment_roles: None
) -> None:
    application = _submitted(world_a)
    with pytest.raises(PermissionDenied):
        onboarding.onboarding_review(
            actor=world_a.user("merchant_admin"), onboarding=application, target=S.AUDITING, applyment_id="A1"
        )
    draft = _application(world_a)
    with pytest.raises(PermissionDenied):
        onboarding.onboarding_submit(actor=platform_admin, onboarding=draft)
    assert Onboarding.objects.get(pk=application.pk).state == S.SUBMITTED
    assert Onboarding.objects.get(pk=draft.pk).state == S.DRAFT


def test_a_sub_merchant_id_of_another_merchant_is_refused(
    world_a: Any, world_b: Any, platform_admin: Any, payment_roles: None
) -> None:
    for world in (world_a, world_b):
        application = _submitted(world)
        onboarding.onboarding_review(
            actor=platform_admin, onboarding=application, target=S.AUDITING, applyment_id="A"
        )
        if world is world_a:
            onboarding.onboarding_review(
                actor=platform_admin, onboarding=application, target=S.FINISHED, sub_mchid="1900000109"
            )
    with pytest.raises(OpenVendError) as refused:
        onboarding.onboarding_review(
            actor=platform_admin, onboarding=application, target=S.FINISHED, sub_mchid="1900000109"
        )
    assert refused.value.code == "payments.onboarding_sub_mchid_taken"
    assert not MerchantPaymentConfig.objects.filter(merchant=world_b.merchant).exists()


# -- the platform console's review page ----------------------------------------------------------------


def test_platform_records_answers_in_the_console(
    client: Any, world_a: Any, platform_admin: Any, payment_roles: None
) -> None:
    application = _submitted(world_a)
    assert console_login(in_english(client), platform_admin.username, PASSWORD, console="/platform/")
    url = f"/platform/payments/onboarding/{application.pk}/review/"
    assert client.get(f"/platform/payments/onboarding/{application.pk}/change/").status_code == 200
    assert client.get(url).status_code == 200
    refused = client.post(url, {"target": "finished", "sub_mchid": "1900000109"})
    assert refused.status_code == 400
    assert list(refused.context["form"].errors) == ["target"]  # finished cannot follow submitted
    application.refresh_from_db()
    assert application.state == S.SUBMITTED
    missing = client.post(url, {"target": "auditing"})
    assert missing.status_code == 400
    assert list(missing.context["form"].errors) == ["applyment_id"]
    assert "Record the provider&#x27;s application id." in missing.content.decode()
    assert client.post(url, {"target": "auditing", "applyment_id": "2000002124775691"}).status_code == 302
    assert client.post(url, {"target": "finished", "sub_mchid": "1900000109"}).status_code == 302
    application.refresh_from_db()
    assert application.state == S.FINISHED
    assert MerchantPaymentConfig.objects.get(merchant=world_a.merchant).wechat_sub_mchid == "1900000109"
    # Nothing follows finished: the action is gone and its URL refused.
    assert client.get(url).status_code == 403
