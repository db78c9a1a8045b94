"""Payment configuration in the consoles: who sees which page, another merchant's rows are 404,
secrets are encrypted at rest and never shown back or audited, and the connection test talks to
the real sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from openvend.audit.models import AuditLogEntry
from openvend.core.crypto import decrypt
from openvend.payments import config_services
from openvend.payments.choices import PaymentMethod, Provider
from openvend.payments.models import MerchantPaymentConfig, ProviderAccount, SitePaymentMethod
from openvend.payments.protocols import wechat as proto
from tests.conftest import console_login
from tests.payments.consumer.conftest import in_english
from tests.world import PASSWORD

pytestmark = pytest.mark.django_db

MERCHANT_PAGES = ["payments/merchantpaymentconfig", "payments/sitepaymentmethod", "payments/onboarding"]
PLATFORM_PAGES = [*MERCHANT_PAGES, "payments/provideraccount"]


def _merchant_admin(client: Any, world: Any) -> None:
    in_english(client)
    assert console_login(client, world.users["merchant_admin"].username, PASSWORD)


def _platform(client: Any, platform_admin: Any) -> None:
    in_english(client)
    assert console_login(client, platform_admin.username, PASSWORD, console="/platform/")


def _key_and_cert() -> tuple[str, str, str]:
    key = proto.generate_private_key_pem()
    cert, serial = proto.self_signed_certificate(key, "merchant API certificate")
    return key, cert, serial


def _all_text(response: Any) -> str:
    return response.content.decode()


def _audit_text() -> str:
    return " ".join(
        f"{row.before} {row.after} {row.message} {row.object_repr}" for row in AuditLogEntry.objects.all()
    )


# -- who sees what -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MERCHANT_PAGES)
def test_merchant_admin_opens_the_payment_pages(
    client: Any, world_a: Any, payment_roles: None, path: str
) -> None:
    _merchant_admin(client, world_a)
    assert client.get(f"/console/{path}/").status_code == 200
    assert client.get(f"/console/{path}/add/").status_code == 200


@pytest.mark.parametrize("path", MERCHANT_PAGES)
def test_staff_without_payment_permissions_are_refused(
    client: Any, world_a: Any, payment_roles: None, path: str
) -> None:
    assert console_login(client, world_a.users["replenisher"].username, PASSWORD)
    assert client.get(f"/console/{path}/").status_code == 403


@pytest.mark.parametrize("path", PLATFORM_PAGES)
def test_platform_admin_opens_the_payment_pages(
    client: Any, platform_admin: Any, payment_roles: None, path: str
) -> None:
    _platform(client, platform_admin)
    assert client.get(f"/platform/{path}/").status_code == 200


def test_provider_accounts_are_not_on_the_merchant_console(
    client: Any, world_a: Any, payment_roles: None
) -> None:
    _merchant_admin(client, world_a)
    assert client.get("/console/payments/provideraccount/").status_code == 404


def test_another_merchants_configuration_and_application_are_404(
    client: Any, world_a: Any, world_b: Any, payment_roles: None
) -> None:
    from openvend.payments import onboarding_services

    theirs = config_services.merchant_config_save(
        actor=None, merchant=world_b.merchant, data={"wechat_sub_mchid": "1900000999"}
    )
    application = onboarding_services.onboarding_create(
        actor=None,
        merchant=world_b.merchant,
        data={
            "provider": "wechat",
            "subject_type": "micro",
            "subject_name": "B 小店",
            "legal_person": "王五",
            "contact_name": "王五",
            "contact_phone": "13800000000",
        },
    )
    method = SitePaymentMethod.objects.create(
        merchant=world_b.merchant, site=world_b.sites["sh-1"], method=PaymentMethod.WALLET
    )
    _merchant_admin(client, world_a)
    assert client.get(f"/console/payments/merchantpaymentconfig/{theirs.pk}/change/").status_code == 404
    assert client.get(f"/console/payments/onboarding/{application.pk}/change/").status_code == 404
    assert client.get(f"/console/payments/onboarding/{application.pk}/submit/").status_code == 404
    assert client.get(f"/console/payments/sitepaymentmethod/{method.pk}/change/").status_code == 404
    listing = _all_text(client.get("/console/payments/merchantpaymentconfig/"))
    assert "1900000999" not in listing


# -- secrets -------------------------------------------------------------------------------------------


def test_merchant_key_upload_is_encrypted_never_shown_and_never_audited(
    client: Any, world_a: Any, payment_roles: None
) -> None:
    key, cert, serial = _key_and_cert()
    _merchant_admin(client, world_a)
    response = client.post(
        "/console/payments/merchantpaymentconfig/add/",
        {
            "wechat_sub_mchid": "1900000109",
            "wechat_sub_appid": "wxsub0001",
            "alipay_smid": "",
            "pay_after_threshold_fen": "30000",
            "own_private_key_file": SimpleUploadedFile("apiclient_key.pem", key.encode()),
            "own_certificate_text": cert,
            "alipay_app_auth_token": "202501BBsecret-token",
        },
    )
    assert response.status_code == 302, _all_text(response)
    config = MerchantPaymentConfig.objects.get(merchant=world_a.merchant)
    assert config.own_private_key_enc.startswith("enc1:")
    assert "PRIVATE KEY" not in config.own_private_key_enc
    assert config_services.read_private_key(decrypt(config.own_private_key_enc)).key_size == 2048
    assert config.alipay_app_auth_token_enc.startswith("enc1:")
    assert decrypt(config.alipay_app_auth_token_enc) == "202501BBsecret-token"
    assert config.own_key_serial_no == serial
    assert config.pay_after_threshold_fen == 30000

    page = _all_text(client.get(f"/console/payments/merchantpaymentconfig/{config.pk}/change/"))
    key_body = key.splitlines()[1]
    assert key_body not in page and "202501BBsecret-token" not in page
    assert "SHA256:" in page and serial in page
    listing = _all_text(client.get("/console/payments/merchantpaymentconfig/"))
    assert key_body not in listing and "202501BBsecret-token" not in listing

    row = AuditLogEntry.objects.get(object_type="payments.merchantpaymentconfig", action="create")
    assert row.after["own_private_key_enc"] == "***"
    assert row.after["alipay_app_auth_token_enc"] == "***"
    assert row.after["wechat_sub_mchid"] == "1900000109"
    audit = _audit_text()
    assert key_body not in audit and "enc1:" not in audit and "202501BBsecret-token" not in audit


def test_saving_without_secrets_keeps_the_stored_ones(client: Any, world_a: Any, payment_roles: None) -> None:
    key, cert, _serial = _key_and_cert()
    config = config_services.merchant_config_save(
        actor=world_a.user("merchant_admin"),
        merchant=world_a.merchant,
        data={"wechat_sub_mchid": "1900000109"},
        own_private_key=key,
        own_certificate=cert,
    )
    stored = config.own_private_key_enc
    _merchant_admin(client, world_a)
    response = client.post(
        f"/console/payments/merchantpaymentconfig/{config.pk}/change/",
        {
            "wechat_sub_mchid": "1900000110",
            "wechat_sub_appid": "",
            "alipay_smid": "",
            "pay_after_threshold_fen": "50000",
        },
    )
    assert response.status_code == 302, _all_text(response)
    config.refresh_from_db()
    assert config.own_private_key_enc == stored
    assert config.wechat_sub_mchid == "1900000110"
    update = AuditLogEntry.objects.get(object_type="payments.merchantpaymentconfig", action="update")
    assert update.changed_fields == ["wechat_sub_mchid"]
    assert (
        update.before["wechat_sub_mchid"] == "1900000109" and update.after["wechat_sub_mchid"] == "1900000110"
    )


def test_a_certificate_of_another_key_is_refused_and_nothing_is_stored(
    client: Any, world_a: Any, payment_roles: None
) -> None:
    key, _cert, _serial = _key_and_cert()
    _other_key, other_cert, _other_serial = _key_and_cert()
    _merchant_admin(client, world_a)
    response = client.post(
        "/console/payments/merchantpaymentconfig/add/",
        {
            "wechat_sub_mchid": "1900000109",
            "pay_after_threshold_fen": "50000",
            "own_private_key_text": key,
            "own_certificate_text": other_cert,
        },
    )
    assert response.status_code == 200
    assert "The certificate does not belong to this private key." in _all_text(response)
    assert not MerchantPaymentConfig.objects.exists()
    assert not AuditLogEntry.objects.filter(object_type="payments.merchantpaymentconfig").exists()


def test_garbage_instead_of_a_key_is_refused_without_echoing_it(
    client: Any, world_a: Any, payment_roles: None
) -> None:
    _merchant_admin(client, world_a)
    response = client.post(
        "/console/payments/merchantpaymentconfig/add/",
        {"pay_after_threshold_fen": "50000", "own_private_key_text": "not-a-key-SECRETLOOKING"},
    )
    assert response.status_code == 200
    text = _all_text(response)
    assert "This is not an unencrypted RSA private key" in text
    assert "not-a-key-SECRETLOOKING" not in text
    assert not MerchantPaymentConfig.objects.exists()


def test_platform_provider_account_secrets_are_encrypted_and_hidden(
    client: Any, platform_admin: Any, payment_roles: None
) -> None:
    key, cert, serial = _key_and_cert()
    _platform(client, platform_admin)
    response = client.post(
        "/platform/payments/provideraccount/add/",
        {
            "provider": "wechat",
            "base_url": "https://api.mch.weixin.qq.com",
            "mch_id": "1900000100",
            "app_id": "wx1234567890abcdef",
            "payscore_service_id": "500001",
            "notify_url": "https://cloud.example.com/payments/notify/wechat/",
            "is_active": "on",
            "private_key_text": key,
            "certificate_file": SimpleUploadedFile("apiclient_cert.pem", cert.encode()),
            "key_serial_no": "",
            "api_key": "0123456789abcdefghijABCDEFGHIJ12",
            "gateway_mode": "public_key",
            "gateway_public_key": "",
            "gateway_public_key_id": "",
            "gateway_certificates": "{}",
            "oauth_url": "",
            "oauth_secret": "appsecret-do-not-show",
        },
    )
    assert response.status_code == 302, _all_text(response)
    account = ProviderAccount.objects.get(provider=Provider.WECHAT)
    for stored in (account.private_key_enc, account.api_key_enc, account.oauth_secret_enc):
        assert stored.startswith("enc1:")
    assert "PRIVATE KEY" not in account.private_key_enc
    assert decrypt(account.api_key_enc) == "0123456789abcdefghijABCDEFGHIJ12"
    assert account.key_serial_no == serial

    page = _all_text(client.get(f"/platform/payments/provideraccount/{account.pk}/change/"))
    for secret in (key.splitlines()[1], "0123456789abcdefghijABCDEFGHIJ12", "appsecret-do-not-show", "enc1:"):
        assert secret not in page
    assert page.count("configured ✓") == 3
    audit = _audit_text()
    for secret in (key.splitlines()[1], "0123456789abcdefghijABCDEFGHIJ12", "appsecret-do-not-show", "enc1:"):
        assert secret not in audit
    row = AuditLogEntry.objects.get(object_type="payments.provideraccount", action="create")
    assert row.after["private_key_enc"] == row.after["api_key_enc"] == row.after["oauth_secret_enc"] == "***"


def test_a_wechat_api_key_of_the_wrong_length_is_refused(
    client: Any, platform_admin: Any, payment_roles: None
) -> None:
    _platform(client, platform_admin)
    response = client.post(
        "/platform/payments/provideraccount/add/",
        {
            "provider": "wechat",
            "base_url": "https://api.mch.weixin.qq.com",
            "mch_id": "1900000100",
            "app_id": "wx1234567890abcdef",
            "api_key": "too-short",
            "gateway_mode": "public_key",
            "gateway_certificates": "{}",
        },
    )
    assert response.status_code == 200
    assert "The API v3 key is exactly 32 characters." in _all_text(response)
    assert not ProviderAccount.objects.exists()


# -- connection test -----------------------------------------------------------------------------------


def test_connection_test_passes_against_the_sandbox(
    client: Any, platform_admin: Any, payment_roles: None, wechat_credentials: dict
) -> None:
    account = ProviderAccount.objects.get(provider=Provider.WECHAT)
    _platform(client, platform_admin)
    url = f"/platform/payments/provideraccount/{account.pk}/test-connection/"
    assert client.get(url).status_code == 200
    page = _all_text(client.post(url))
    assert "Connected: the gateway accepted our signature and its answer was verified." in page


def test_connection_test_reports_a_wrong_gateway_key(
    client: Any, platform_admin: Any, payment_roles: None, wechat_credentials: dict
) -> None:
    account = ProviderAccount.objects.get(provider=Provider.WECHAT)
    stranger = proto.public_key_pem(proto.generate_private_key_pem())
    ProviderAccount.objects.filter(pk=account.pk).update(gateway_public_key=stranger)
    check = config_services.provider_account_test(account=ProviderAccount.objects.get(pk=account.pk))
    assert check.ok is False
    assert "failed verification (bad_signature)" in check.text


def test_connection_test_reports_a_key_the_gateway_does_not_know(
    payment_roles: None, wechat_credentials: dict
) -> None:
    account = ProviderAccount.objects.get(provider=Provider.WECHAT)
    config_services.provider_account_save(
        actor=None, account=account, data={}, private_key=proto.generate_private_key_pem()
    )
    check = config_services.provider_account_test(account=ProviderAccount.objects.get(pk=account.pk))
    assert check.ok is False
    assert check.text.startswith("The gateway refused: SIGN_ERROR")


def test_alipay_connection_test_passes_against_the_sandbox(
    payment_roles: None, alipay_credentials: dict
) -> None:
    check = config_services.provider_account_test(
        account=ProviderAccount.objects.get(provider=Provider.ALIPAY)
    )
    assert check.ok is True, check.text


# -- site methods --------------------------------------------------------------------------------------


def test_offering_methods_on_several_sites_at_once(client: Any, world_a: Any, payment_roles: None) -> None:
    _merchant_admin(client, world_a)
    sites = [world_a.sites["sh-1"], world_a.sites["sz-1"]]
    url = "/console/payments/sitepaymentmethod/offer-on-sites/"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"sites": [s.pk for s in sites], "methods": ["wechat_payscore", "wallet"], "enabled": "1"}
    )
    assert response.status_code == 302
    rows = set(SitePaymentMethod.objects.filter(enabled=True).values_list("site__code", "method"))
    assert rows == {
        ("sh-1", "wechat_payscore"),
        ("sh-1", "wallet"),
        ("sz-1", "wechat_payscore"),
        ("sz-1", "wallet"),
    }
    assert (
        AuditLogEntry.objects.filter(object_type="payments.sitepaymentmethod", action="create").count() == 4
    )
    # The same request again changes nothing and writes no audit row.
    client.post(
        url, {"sites": [s.pk for s in sites], "methods": ["wechat_payscore", "wallet"], "enabled": "1"}
    )
    assert AuditLogEntry.objects.filter(object_type="payments.sitepaymentmethod").count() == 4
    client.post(url, {"sites": [sites[0].pk], "methods": ["wallet"], "enabled": "0"})
    assert not SitePaymentMethod.objects.get(site=sites[0], method="wallet").enabled
    assert (
        AuditLogEntry.objects.filter(object_type="payments.sitepaymentmethod", action="update").count() == 1
    )


def test_another_merchants_site_cannot_be_given_methods(
    client: Any, world_a: Any, world_b: Any, payment_roles: None
) -> None:
    _merchant_admin(client, world_a)
    response = client.post(
        "/console/payments/sitepaymentmethod/offer-on-sites/",
        {"sites": [world_b.sites["sh-1"].pk], "methods": ["wallet"], "enabled": "1"},
    )
    assert response.status_code == 200  # the form refuses the choice
    assert not SitePaymentMethod.objects.exists()
