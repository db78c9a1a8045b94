"""Who the shopper is, as WeChat or Alipay vouch for it through OAuth (网页授权).

WeChat: the browser goes to `/connect/oauth2/authorize` and comes back with `code`; we trade the code
for the openid at `/sns/oauth2/access_token` (a plain GET with the AppSecret, not a signed pay API).
Alipay: the browser goes to `/oauth2/publicAppAuthorize.htm` and comes back with `auth_code`; we
trade it through the signed gateway call `alipay.system.oauth.token`.

The pages live at `ProviderAccount.oauth_url` (or the gateway's host when that is blank), so the
same code talks to the providers or to the local sandboxes.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from openvend.consumers.models import Consumer, ConsumerIdentity, IdentityProvider
from openvend.payments.credentials import credentials_for
from openvend.payments.errors import PaymentError, PaymentNotConfigured
from openvend.payments.models import ProviderAccount
from openvend.payments.providers.base import ProviderError, Rejected

REAL_WECHAT_PAY_HOST = "api.mch.weixin.qq.com"
REAL_WECHAT_OPEN_HOST = "open.weixin.qq.com"
REAL_WECHAT_API_HOST = "api.weixin.qq.com"
REAL_ALIPAY_GATEWAY_HOST = "openapi.alipay.com"
REAL_ALIPAY_AUTH_HOST = "openauth.alipay.com"
TIMEOUT_S = 10.0
_SECRET_IN_URL = re.compile(r"(secret=)[^&\s\"']+")


class _RedactSecret(logging.Filter):
    """httpx logs each request URL at INFO, and WeChat wants the AppSecret in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "secret=" in message:
            record.msg, record.args = _SECRET_IN_URL.sub(r"\1***", message), ()
        return True


logging.getLogger("httpx").addFilter(_RedactSecret())


class OAuthFailed(Exception):
    """The provider did not vouch for the shopper; the message is for the shopper."""


@dataclass(frozen=True)
class Vouched:
    provider: str
    app_id: str
    subject: str  # WeChat openid under app_id; Alipay user id (or open id)


def new_state() -> str:
    return secrets.token_urlsafe(24)


def _account(provider: str) -> ProviderAccount:
    account = ProviderAccount.objects.filter(provider=provider, is_active=True).first()
    if account is None:
        raise PaymentNotConfigured(provider)
    return account


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme or "https", parts.netloc


def _pages_origin(account: ProviderAccount) -> tuple[str, str]:
    if account.oauth_url:
        return _origin(account.oauth_url)
    scheme, host = _origin(account.base_url)
    real = {REAL_WECHAT_PAY_HOST: REAL_WECHAT_OPEN_HOST, REAL_ALIPAY_GATEWAY_HOST: REAL_ALIPAY_AUTH_HOST}
    return scheme, real.get(host, host)


def app_id_of(provider: str) -> str:
    return _account(provider).app_id


def authorize_url(provider: str, *, redirect_uri: str, state: str) -> str:
    """Where to send the shopper's browser to be recognised (silently: snsapi_base / auth_base)."""
    account = _account(provider)
    scheme, host = _pages_origin(account)
    if provider == IdentityProvider.WECHAT:
        query = urlencode(
            {
                "appid": account.app_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
            }
        )
        return urlunsplit((scheme, host, "/connect/oauth2/authorize", query, "wechat_redirect"))
    query = urlencode(
        {"app_id": account.app_id, "scope": "auth_base", "redirect_uri": redirect_uri, "state": state}
    )
    return urlunsplit((scheme, host, "/oauth2/publicAppAuthorize.htm", query, ""))


def exchange(provider: str, params: Mapping[str, str]) -> Vouched:
    """Trade the code the browser brought back for the shopper's id at that provider."""
    if provider == IdentityProvider.WECHAT:
        return _wechat_openid(params.get("code", ""))
    return _alipay_user_id(params.get("auth_code", ""))


def _wechat_openid(code: str) -> Vouched:
    if not code:
        raise OAuthFailed(_("WeChat did not confirm who you are. Please try again."))
    account = _account(IdentityProvider.WECHAT)
    secret = credentials_for(IdentityProvider.WECHAT).oauth_secret
    if not secret:
        raise OAuthFailed(_("Sign-in with WeChat is not set up for this merchant yet."))
    scheme, host = _origin(account.base_url)
    host = REAL_WECHAT_API_HOST if host == REAL_WECHAT_PAY_HOST else host
    url = urlunsplit((scheme, host, "/sns/oauth2/access_token", "", ""))
    params = {"appid": account.app_id, "secret": secret, "code": code, "grant_type": "authorization_code"}
    try:
        response = httpx.get(url, params=params, timeout=TIMEOUT_S)
        data = response.json()
    except (httpx.HTTPError, ValueError):
        raise OAuthFailed(_("WeChat cannot be reached right now. Please try again.")) from None
    openid = str(data.get("openid") or "") if isinstance(data, dict) else ""
    if response.status_code != 200 or not openid or data.get("errcode"):
        raise OAuthFailed(_("WeChat did not confirm who you are. Please try again."))
    return Vouched(IdentityProvider.WECHAT, account.app_id, openid)


def _alipay_user_id(auth_code: str) -> Vouched:
    if not auth_code:
        raise OAuthFailed(_("Alipay did not confirm who you are. Please try again."))
    from openvend.payments.providers.alipay_client import AlipayClient

    credentials = credentials_for(IdentityProvider.ALIPAY)
    client = AlipayClient(credentials, timeout_s=TIMEOUT_S)
    try:
        identity = client.oauth_token(auth_code)
    except (ProviderError, Rejected):
        raise OAuthFailed(_("Alipay did not confirm who you are. Please try again.")) from None
    finally:
        client.close()
    subject = identity.user_id or identity.open_id
    if not subject:
        raise OAuthFailed(_("Alipay did not confirm who you are. Please try again."))
    return Vouched(IdentityProvider.ALIPAY, credentials.app_id, subject)


@transaction.atomic
def consumer_for(vouched: Vouched, *, current: Consumer | None) -> Consumer:
    """The consumer this identity belongs to. A new identity joins the consumer already signed in
    (one person using both apps) or starts a new consumer; the unique constraint settles two
    first sign-ins at the same moment."""
    key = {"provider": vouched.provider, "app_id": vouched.app_id, "subject": vouched.subject}
    identity = ConsumerIdentity.objects.select_related("consumer").filter(**key).first()
    if identity is not None:
        return identity.consumer
    try:
        with transaction.atomic():
            consumer = current or Consumer.objects.create()
            ConsumerIdentity.objects.create(consumer=consumer, **key)
    except IntegrityError:
        return ConsumerIdentity.objects.select_related("consumer").get(**key).consumer
    return consumer


def payer_id(consumer: Consumer, provider: str) -> str:
    """The consumer's id at `provider` under the platform's app ("" when not known yet)."""
    try:
        app_id = app_id_of(provider)
    except PaymentError:
        return ""
    identity = consumer.identities.filter(provider=provider, app_id=app_id).order_by("pk").first()
    return identity.subject if identity is not None else ""
