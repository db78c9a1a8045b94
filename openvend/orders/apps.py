from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "openvend.orders"
    label = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        # Payments know nothing of what they pay for: orders ask to hear how each charge ends.
        from openvend.orders.corrections import apply_correction_payment_outcome, apply_refund_outcome
        from openvend.orders.order_payments import apply_payment_outcome
        from openvend.orders.unpaid import mark_payment_failed
        from openvend.payments.services.results import on_payment_outcome, on_refund_outcome

        on_payment_outcome(apply_payment_outcome)
        on_payment_outcome(mark_payment_failed)
        on_payment_outcome(apply_correction_payment_outcome)
        on_refund_outcome(apply_refund_outcome)
