"""Alipay withholding agreements (商家扣款): the shopper signs an agreement once on Alipay's page, then
each visit is charged with alipay.trade.pay against the agreement number, no confirmation needed."""

from __future__ import annotations

from openvend.payments.providers.alipay_base import AlipayProviderBase
from openvend.payments.providers.alipay_client import AlipayClient
from openvend.payments.providers.base import (
    AuthorisationRequest,
    AuthorisationResult,
    AuthorisationState,
    ChargeRequest,
    ChargeResult,
    ChargeState,
    Credentials,
    ProviderError,
    SubMerchant,
)

AGREEMENT_NOT_EXIST = "USER_AGREEMENT_NOT_EXIST"
AGREEMENT_STATES = {
    "TEMP": AuthorisationState.PENDING,  # signed page opened, never effective
    "NORMAL": AuthorisationState.ACTIVE,
    "STOP": AuthorisationState.REVOKED,
}
DEFAULT_SIGN_SCENE = "INDUSTRY|RETAIL"


class AlipayAgreementProvider(AlipayProviderBase):
    def __init__(
        self,
        credentials: Credentials,
        *,
        client: AlipayClient | None = None,
        sign_scene: str = DEFAULT_SIGN_SCENE,
    ):
        super().__init__(credentials, client=client)
        self.sign_scene = sign_scene

    def authorise(self, sub: SubMerchant, request: AuthorisationRequest) -> AuthorisationResult:
        url = self.client.agreement_sign_url(
            sub,
            external_agreement_no=request.out_request_no,
            external_logon_id=request.payer_id,
            return_url=request.return_url,
            notify_url=self._notify_url(request.notify_url),
            sign_scene=self.sign_scene,
        )
        return AuthorisationResult(
            AuthorisationState.PENDING, payer_id=request.payer_id, next_action={"sign_url": url}
        )

    def query_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, out_request_no: str = ""
    ) -> AuthorisationResult:
        try:
            node = self.client.agreement_query(sub, agreement_no=authorisation_ref, alipay_user_id=payer_id)
        except ProviderError as exc:
            if exc.code == AGREEMENT_NOT_EXIST:
                return AuthorisationResult(AuthorisationState.NOT_FOUND, authorisation_ref=authorisation_ref)
            raise
        state = AGREEMENT_STATES.get(str(node.get("status", "")), AuthorisationState.REVOKED)
        return AuthorisationResult(
            state,
            authorisation_ref=str(node.get("agreement_no", authorisation_ref)),
            payer_id=str(node.get("principal_id", payer_id)),
            raw=node,
        )

    def revoke_authorisation(
        self, sub: SubMerchant, payer_id: str, authorisation_ref: str, reason: str
    ) -> AuthorisationResult:
        try:
            node = self.client.agreement_unsign(
                sub,
                agreement_no=authorisation_ref,
                alipay_user_id=payer_id,
                notify_url=self.credentials.notify_url,
            )
        except ProviderError as exc:
            if exc.code == AGREEMENT_NOT_EXIST:  # already gone: revoking again is a no-op
                return AuthorisationResult(AuthorisationState.REVOKED, authorisation_ref=authorisation_ref)
            raise
        return AuthorisationResult(
            AuthorisationState.REVOKED, authorisation_ref=authorisation_ref, payer_id=payer_id, raw=node
        )

    def open_pay_after(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        # The signed agreement is the whole authorisation: nothing to open per visit.
        return ChargeResult(ChargeState.PENDING)

    def charge(self, sub: SubMerchant, request: ChargeRequest) -> ChargeResult:
        return self._pay(
            sub,
            request.out_trade_no,
            lambda: self.client.agreement_pay(
                sub,
                out_trade_no=request.out_trade_no,
                amount_fen=request.amount_fen,
                subject=request.description,
                agreement_no=request.authorisation_ref,
                buyer_id=request.payer_id,
                notify_url=self._notify_url(request.notify_url),
            ),
        )
