from openvend.orders.models.appeals import Appeal, Correction
from openvend.orders.models.cart import CartLine
from openvend.orders.models.order import Order, OrderLine
from openvend.orders.models.policy import OrderPolicy

__all__ = ["Appeal", "CartLine", "Correction", "Order", "OrderLine", "OrderPolicy"]
