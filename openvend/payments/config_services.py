"""Writing the payment configuration: the platform's provider accounts, each merchant's identity
under them, and which methods each site offers.

Secrets arrive as plain text from a form, are checked (a key must parse, a certificate must match
its key), encrypted with `openvend.core.crypto` and never come back out of here: audit rows carry
"***" in their place and pages show only whether a secret is set and the fingerprint of its public
half.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, diff, ensure_still_visible, snapshot
from openvend.core.crypto import decrypt, encrypt
from openvend.core.errors import OpenVendError
from openvend.payments.choices import PaymentMethod, Provider
from openvend.payments.models import MerchantPaymentConfig, ProviderAccount, SitePaymentMethod

REDACTED = "***"
PROVIDER_ACCOUNT_FIELDS = (
    "provider",
    "base_url",
    "mch_id",
    "app_id",
    "key_serial_no",
    "gateway_mode",
    "gateway_public_key",
    "gateway_public_key_id",
    "gateway_certificates",
    "payscore_service_id",
    "notify_url",
    "oauth_url",
    "is_active",
)
MERCHANT_CONFIG_FIELDS = ("wechat_sub_mchid", "wechat_sub_appid", "alipay_smid", "pay_after_threshold_fen")
WECHAT_API_V3_KEY_LENGTH = 32
_PEM_LINE = re.compile(r"\s+")


class ConfigErrorCode(StrEnum):
    INVALID_KEY = "payments.invalid_key"
    INVALID_CERTIFICATE = "payments.invalid_certificate"
    KEY_MISMATCH = "payments.key_mismatch"
    INVALID_API_KEY = "payments.invalid_api_key"
    WRONG_MERCHANT = "payments.wrong_merchant"


# ---------------------------------------------------------------------------------------------
# Keys and certificates
# ---------------------------------------------------------------------------------------------


def _wrap_pem(text: str, label: str) -> str:
    """Providers hand out keys both as PEM and as one bare base64 line (Alipay's key tool)."""
    body = _PEM_LINE.sub("", text)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def read_private_key(text: str, *, field: str = "private_key") -> rsa.RSAPrivateKey:
    """Parse an RSA private key given as PEM (PKCS#1 or PKCS#8) or as bare base64. The error never
    quotes the key."""
    text = text.strip()
    candidates = (
        [text]
        if "-----BEGIN" in text
        else [_wrap_pem(text, "PRIVATE KEY"), _wrap_pem(text, "RSA PRIVATE KEY")]
    )
    for candidate in candidates:
        try:
            key = serialization.load_pem_private_key(candidate.encode(), password=None)
        except (ValueError, TypeError):
            continue
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
            return key
        break
    message = _("This is not an unencrypted RSA private key of at least 2048 bits (PEM or base64).")
    raise OpenVendError(ConfigErrorCode.INVALID_KEY, message, fields={field: [message]})


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    """The one form we store: PKCS#8 PEM, what both protocol clients load."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def read_certificate(text: str, *, field: str = "certificate") -> x509.Certificate:
    text = text.strip()
    if "-----BEGIN" not in text:
        text = _wrap_pem(text, "CERTIFICATE")
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        message = _("This is not an X.509 certificate in PEM form.")
        raise OpenVendError(ConfigErrorCode.INVALID_CERTIFICATE, message, fields={field: [message]}) from None


def certificate_serial(certificate: x509.Certificate) -> str:
    """The serial as WeChat writes it (upper-case hex), which is what Wechatpay-Serial carries."""
    return f"{certificate.serial_number:X}"


def fingerprint(public_key: Any) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo: enough to tell keys apart, nothing to sign with."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(der).hexdigest().upper()
    return "SHA256:" + ":".join(digest[i : i + 2] for i in range(0, 16, 2)) + "…" + digest[-8:]


def stored_key_fingerprint(stored: str) -> str:
    """Fingerprint of an encrypted private key's public half; "" when nothing is stored."""
    if not stored:
        return ""
    try:
        return fingerprint(read_private_key(decrypt(stored)).public_key())
    except (OpenVendError, ValueError):
        return _("unreadable: upload the key again")


def certificate_fingerprint(pem: str) -> str:
    if not pem:
        return ""
    try:
        return fingerprint(read_certificate(pem).public_key())
    except OpenVendError:
        return _("unreadable: upload the certificate again")


def _require_match(key: rsa.RSAPrivateKey, certificate: x509.Certificate, field: str) -> None:
    if fingerprint(key.public_key()) != fingerprint(certificate.public_key()):
        message = _("The certificate does not belong to this private key.")
        raise OpenVendError(ConfigErrorCode.KEY_MISMATCH, message, fields={field: [message]})


# ---------------------------------------------------------------------------------------------
# Audit without secrets
# ---------------------------------------------------------------------------------------------


def safe_snapshot(instance: models.Model) -> dict[str, Any]:
    """`snapshot` with every encrypted field replaced by "***" (set) or "" (not set): an audit row
    may say that a secret exists, never what it is, not even encrypted."""
    data = snapshot(instance)
    for name in list(data):
        if name.endswith("_enc"):
            data[name] = REDACTED if data[name] else ""
    return data


def _audit_save(
    *, actor: Any, instance: models.Model, before: Mapping[str, Any] | None, replaced: Iterable[str] = ()
) -> None:
    after = safe_snapshot(instance)
    replaced = sorted(replaced)
    message = _("Secrets replaced: %(names)s") % {"names": ", ".join(replaced)} if replaced else ""
    if before is None:
        audit_record(actor=actor, action=AuditAction.CREATE, instance=instance, after=after, message=message)
    elif diff(before, after) or replaced:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=instance,
            before=before,
            after=after,
            message=message,
        )


def _require_perm(actor: Any, perm: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDenied(_("You may not change the payment configuration."))


# ---------------------------------------------------------------------------------------------
# The platform's provider accounts
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def provider_account_save(
    *,
    actor: Any,
    account: ProviderAccount | None,
    data: Mapping[str, Any],
    private_key: str = "",
    certificate: str = "",
    api_key: str = "",
    oauth_secret: str = "",
) -> ProviderAccount:
    """Create or update a provider account. Empty secrets keep what is stored; a certificate, when
    given, must match the key and sets the serial."""
    if actor is not None and not getattr(actor, "is_platform_user", False):
        raise PermissionDenied(_("Only platform staff manage provider accounts."))
    _require_perm(actor, f"payments.{'change' if account else 'add'}_provideraccount")
    before = None
    if account is None:
        account = ProviderAccount()
    else:
        account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
        before = safe_snapshot(account)
    for name, value in data.items():
        if name in PROVIDER_ACCOUNT_FIELDS:
            setattr(account, name, value)
    if account.gateway_public_key and "-----BEGIN" not in account.gateway_public_key:
        account.gateway_public_key = _wrap_pem(account.gateway_public_key, "PUBLIC KEY")
    replaced: list[str] = []
    key = read_private_key(private_key) if private_key.strip() else None
    if key is not None:
        account.private_key_enc = encrypt(private_key_pem(key))
        replaced.append("private_key")
    if certificate.strip():
        cert = read_certificate(certificate)
        stored = key or (
            read_private_key(decrypt(account.private_key_enc)) if account.private_key_enc else None
        )
        if stored is not None:
            _require_match(stored, cert, "certificate")
        account.key_serial_no = certificate_serial(cert)
    if api_key.strip():
        api_key = api_key.strip()
        if account.provider == Provider.WECHAT and len(api_key.encode()) != WECHAT_API_V3_KEY_LENGTH:
            message = _("The API v3 key is exactly 32 characters.")
            raise OpenVendError(ConfigErrorCode.INVALID_API_KEY, message, fields={"api_key": [message]})
        account.api_key_enc = encrypt(api_key)
        replaced.append("api_key")
    if oauth_secret.strip():
        account.oauth_secret_enc = encrypt(oauth_secret.strip())
        replaced.append("oauth_secret")
    account.full_clean()
    account.save()
    _audit_save(actor=actor, instance=account, before=before, replaced=replaced if before else ())
    return account


# ---------------------------------------------------------------------------------------------
# A merchant's identity under the platform
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def merchant_config_save(
    *,
    actor: Any,
    merchant: Any,
    data: Mapping[str, Any],
    own_private_key: str = "",
    own_certificate: str = "",
    app_auth_token: str = "",
) -> MerchantPaymentConfig:
    """Create or update the merchant's payment configuration (one per merchant)."""
    if actor is not None and getattr(actor, "merchant_id", None) not in (None, merchant.pk):
        raise OpenVendError(ConfigErrorCode.WRONG_MERCHANT, _("This is another merchant's configuration."))
    config = MerchantPaymentConfig.objects.select_for_update().filter(merchant=merchant).first()
    before = safe_snapshot(config) if config else None
    _require_perm(actor, f"payments.{'change' if config else 'add'}_merchantpaymentconfig")
    config = config or MerchantPaymentConfig(merchant=merchant)
    for name, value in data.items():
        if name in MERCHANT_CONFIG_FIELDS:
            setattr(config, name, value)
    replaced: list[str] = []
    key = read_private_key(own_private_key, field="own_private_key") if own_private_key.strip() else None
    if key is not None:
        config.own_private_key_enc = encrypt(private_key_pem(key))
        replaced.append("own_private_key")
    if own_certificate.strip():
        cert = read_certificate(own_certificate, field="own_certificate")
        stored = key or (
            read_private_key(decrypt(config.own_private_key_enc)) if config.own_private_key_enc else None
        )
        if stored is not None:
            _require_match(stored, cert, "own_certificate")
        config.own_certificate = cert.public_bytes(serialization.Encoding.PEM).decode()
        config.own_key_serial_no = certificate_serial(cert)
    elif key is not None and config.own_certificate:
        _require_match(key, read_certificate(config.own_certificate), "own_private_key")
    if app_auth_token.strip():
        config.alipay_app_auth_token_enc = encrypt(app_auth_token.strip())
        replaced.append("alipay_app_auth_token")
    config.full_clean()
    config.save()
    ensure_still_visible(actor=actor, instance=config, action="change" if before else "add")
    _audit_save(actor=actor, instance=config, before=before, replaced=replaced if before else ())
    return config


# ---------------------------------------------------------------------------------------------
# What each site offers
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def site_methods_set(
    *, actor: Any, sites: Iterable[Any], methods: Iterable[str], enabled: bool = True
) -> int:
    """Offer (or stop offering) `methods` on `sites`; returns how many site-method rows changed.
    Running it twice changes nothing the second time."""
    changed = 0
    methods = [PaymentMethod(m) for m in methods]
    for site in sites:
        if actor is not None and getattr(actor, "merchant_id", None) not in (None, site.merchant_id):
            raise OpenVendError(ConfigErrorCode.WRONG_MERCHANT, _("This is another merchant's site."))
        for method in methods:
            row = SitePaymentMethod.objects.select_for_update().filter(site=site, method=method).first()
            if row is None:
                _require_perm(actor, "payments.add_sitepaymentmethod")
                row = SitePaymentMethod(
                    merchant_id=site.merchant_id, site=site, method=method, enabled=enabled
                )
                row.full_clean()
                row.save()
                ensure_still_visible(actor=actor, instance=row, action="add")
                _audit_save(actor=actor, instance=row, before=None)
                changed += 1
            elif row.enabled != enabled:
                _require_perm(actor, "payments.change_sitepaymentmethod")
                before = safe_snapshot(row)
                row.enabled = enabled
                row.save(update_fields=["enabled", "updated_at"])
                ensure_still_visible(actor=actor, instance=row, action="change")
                _audit_save(actor=actor, instance=row, before=before)
                changed += 1
    return changed


@transaction.atomic
def site_method_rows_set(*, actor: Any, rows: Iterable[SitePaymentMethod], enabled: bool) -> int:
    """Switch existing rows on or off (the console's bulk action)."""
    changed = 0
    for row in rows:
        if row.enabled == enabled:
            continue
        _require_perm(actor, "payments.change_sitepaymentmethod")
        before = safe_snapshot(row)
        row.enabled = enabled
        row.save(update_fields=["enabled", "updated_at"])
        ensure_still_visible(actor=actor, instance=row, action="change")
        _audit_save(actor=actor, instance=row, before=before)
        changed += 1
    return changed


# ---------------------------------------------------------------------------------------------
# Connection test
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    text: str


# A query needs a sub-merchant in service-provider mode; any merchant already set up will do, and
# without one the gateway still has to accept our signature to answer "no such order".
_TEST_METHOD = {Provider.WECHAT: PaymentMethod.WECHAT_JSAPI, Provider.ALIPAY: PaymentMethod.ALIPAY_WAP}


def provider_account_test(*, account: ProviderAccount) -> ConnectionCheck:
    """Query an order number that cannot exist: NOT_FOUND proves the gateway took our signature
    and its signed answer passed verification. Nothing is created or charged."""
    from openvend.payments.credentials import sub_merchant_for
    from openvend.payments.errors import PaymentError
    from openvend.payments.providers.base import ChargeState, ProviderError, Rejected, SubMerchant
    from openvend.payments.registry import provider_for

    method = _TEST_METHOD.get(Provider(account.provider))
    if method is None:
        return ConnectionCheck(False, _("This provider has no gateway to test."))
    if not account.is_active:
        return ConnectionCheck(False, _("The account is switched off; switch it on to test it."))
    id_field = "wechat_sub_mchid" if account.provider == Provider.WECHAT else "alipay_smid"
    known = MerchantPaymentConfig.objects.exclude(**{id_field: ""}).order_by("pk").first()
    sub = sub_merchant_for(known.merchant_id) if known else SubMerchant()
    out_trade_no = f"OVPING{timezone.now():%Y%m%d%H%M%S}"
    try:
        result = provider_for(method).query(sub, out_trade_no)
    except Rejected as exc:
        text = _(
            "The gateway answered, but its answer failed verification (%(reason)s): check the gateway key."
        )
        return ConnectionCheck(False, text % {"reason": exc.reason.value})
    except ProviderError as exc:
        if exc.status == 0:
            return ConnectionCheck(False, _("The gateway cannot be reached: %(code)s") % {"code": exc.code})
        return ConnectionCheck(
            False, _("The gateway refused: %(code)s %(message)s") % {"code": exc.code, "message": exc.message}
        )
    except (PaymentError, ValueError) as exc:
        return ConnectionCheck(False, str(exc))
    if result.state == ChargeState.NOT_FOUND:
        return ConnectionCheck(
            True, _("Connected: the gateway accepted our signature and its answer was verified.")
        )
    return ConnectionCheck(
        True, _("Connected: the gateway answered with state %(state)s.") % {"state": result.state.value}
    )
