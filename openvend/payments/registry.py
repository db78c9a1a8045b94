"""Which provider object serves a payment method.

Provider classes are named by dotted path and imported on first use, so this module (and every
service that uses it) imports cleanly whatever provider modules exist. Each is built per call with
freshly decrypted credentials (`credentials_for`), so a changed key takes effect at once and secrets
live only as long as one request (or one `credentials.one_configuration()` block: the steps of one
payment share a provider).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.utils.module_loading import import_string

from openvend.payments.choices import PROVIDER_OF, PaymentMethod, Provider
from openvend.payments.credentials import credentials_for, once_per_block
from openvend.payments.errors import PaymentError
from openvend.payments.providers.base import PaymentProvider

PROVIDER_CLASSES: dict[str, str] = {
    PaymentMethod.WECHAT_JSAPI: "openvend.payments.providers.wechat.WeChatJsapiProvider",
    PaymentMethod.WECHAT_PAYSCORE: "openvend.payments.providers.wechat.WeChatPayscoreProvider",
    PaymentMethod.ALIPAY_AGREEMENT: "openvend.payments.providers.alipay.AlipayAgreementProvider",
    PaymentMethod.ALIPAY_ZHIMA: "openvend.payments.providers.alipay.AlipayZhimaProvider",
    PaymentMethod.ALIPAY_WAP: "openvend.payments.providers.alipay.AlipayWapProvider",
    PaymentMethod.WALLET: "openvend.payments.providers.wallet.WalletProvider",
}

# Notifications arrive per provider, not per method: this method's class verifies and normalises every
# notification of its provider (they share the verification and decryption of that provider).
NOTIFICATION_METHOD: dict[str, str] = {
    Provider.WECHAT: PaymentMethod.WECHAT_PAYSCORE,
    Provider.ALIPAY: PaymentMethod.ALIPAY_AGREEMENT,
}

_overrides: dict[str, PaymentProvider] = {}
_overrides_lock = threading.Lock()


class UnknownMethod(PaymentError):
    pass


def _build(method: str) -> PaymentProvider:
    provider = PROVIDER_OF.get(method)
    if provider is None or method not in PROVIDER_CLASSES:
        raise UnknownMethod(method)
    cls: Any = import_string(PROVIDER_CLASSES[method])
    if provider == Provider.WALLET:
        return cls()  # type: ignore[no-any-return]
    credentials = credentials_for(provider)
    if method == PaymentMethod.ALIPAY_ZHIMA:
        # The platform's one service id field serves payscore and Zhima credit (芝麻先享) alike.
        return cls(credentials, zm_service_id=credentials.payscore_service_id)  # type: ignore[no-any-return]
    return cls(credentials)  # type: ignore[no-any-return]


def provider_for(method: str) -> PaymentProvider:
    """The provider that carries out payments of `method` (raises PaymentNotConfigured when the
    platform has no active account with that provider)."""
    override = _overrides.get(method)
    if override is not None:
        return override
    return once_per_block(("provider", method), lambda: _build(method))


def notification_provider(provider_name: str) -> PaymentProvider:
    """The provider object that verifies notifications posted by `provider_name`."""
    method = NOTIFICATION_METHOD.get(provider_name)
    if method is None:
        raise UnknownMethod(provider_name)
    return provider_for(method)


@contextmanager
def use_provider(method: str, provider: PaymentProvider) -> Iterator[PaymentProvider]:
    """Serve `method` with `provider` inside the block. For tests of the domain's rules only; the
    protocols themselves are tested against the sandboxes."""
    with _overrides_lock:
        previous = _overrides.get(method)
        _overrides[method] = provider
    try:
        yield provider
    finally:
        with _overrides_lock:
            if previous is None:
                _overrides.pop(method, None)
            else:
                _overrides[method] = previous
