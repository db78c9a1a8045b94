from django.db import models
from django.utils.translation import gettext_lazy as _


class Provider(models.TextChoices):
    WECHAT = "wechat", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    WALLET = "wallet", _("Wallet")


class PaymentMethod(models.TextChoices):
    """How a shopper pays. The provider follows from the method (see PROVIDER_OF)."""

    WECHAT_PAYSCORE = "wechat_payscore", _("WeChat Pay payscore (pay after)")
    WECHAT_JSAPI = "wechat_jsapi", _("WeChat Pay (JSAPI)")
    ALIPAY_AGREEMENT = "alipay_agreement", _("Alipay agreement pay (pay after)")
    ALIPAY_ZHIMA = "alipay_zhima", _("Alipay Zhima credit (pay after)")
    ALIPAY_WAP = "alipay_wap", _("Alipay (H5)")
    WALLET = "wallet", _("Wallet balance")


PROVIDER_OF: dict[str, str] = {
    PaymentMethod.WECHAT_PAYSCORE: Provider.WECHAT,
    PaymentMethod.WECHAT_JSAPI: Provider.WECHAT,
    PaymentMethod.ALIPAY_AGREEMENT: Provider.ALIPAY,
    PaymentMethod.ALIPAY_ZHIMA: Provider.ALIPAY,
    PaymentMethod.ALIPAY_WAP: Provider.ALIPAY,
    PaymentMethod.WALLET: Provider.WALLET,
}

# Methods that charge without the shopper present (the door-close flow) need an authorisation first.
PAY_AFTER_METHODS = frozenset(
    {PaymentMethod.WECHAT_PAYSCORE, PaymentMethod.ALIPAY_AGREEMENT, PaymentMethod.ALIPAY_ZHIMA}
)


class PaymentState(models.TextChoices):
    """created → pending → paid | failed | closed; failed → pending (tried again) or closed (waived).

    `failed` means the shopper owes the money (a pending-payment order): the charge was refused.
    """

    CREATED = "created", _("created")
    PENDING = "pending", _("awaiting result")
    PAID = "paid", _("paid")
    FAILED = "failed", _("unpaid (charge failed)")
    CLOSED = "closed", _("closed")


class RefundState(models.TextChoices):
    CREATED = "created", _("created")
    PENDING = "pending", _("processing")
    SUCCEEDED = "succeeded", _("refunded")
    FAILED = "failed", _("failed")


class AuthorisationState(models.TextChoices):
    PENDING = "pending", _("awaiting the shopper")
    ACTIVE = "active", _("active")
    REVOKED = "revoked", _("revoked")


class NotificationOutcome(models.TextChoices):
    APPLIED = "applied", _("applied")
    NO_CHANGE = "no_change", _("no change needed")
    REJECTED = "rejected", _("rejected")


class GatewayMode(models.TextChoices):
    """How we verify WeChat's signatures: its platform public key, or its platform certificates."""

    PUBLIC_KEY = "public_key", _("platform public key")
    CERTIFICATE = "certificate", _("platform certificate")


class OnboardingSubject(models.TextChoices):
    ENTERPRISE = "enterprise", _("enterprise")
    INDIVIDUAL = "individual", _("individual business")
    MICRO = "micro", _("micro merchant")


class OnboardingState(models.TextChoices):
    """The provider's applyment review states (进件审核)."""

    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    AUDITING = "auditing", _("under review")
    REJECTED = "rejected", _("rejected")
    TO_BE_CONFIRMED = "to_be_confirmed", _("awaiting legal person's confirmation")
    TO_BE_SIGNED = "to_be_signed", _("awaiting contract signing")
    FINISHED = "finished", _("finished")
    CANCELLED = "cancelled", _("cancelled")


class WalletEntryKind(models.TextChoices):
    RECHARGE = "recharge", _("recharge")
    PAYMENT = "payment", _("payment")
    REFUND = "refund", _("refund")
    ADJUSTMENT = "adjustment", _("adjustment")
