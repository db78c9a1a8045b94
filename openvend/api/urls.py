from django.urls import include, path
from rest_framework.routers import DefaultRouter

from openvend.api.accounts.views import RoleViewSet, UserViewSet
from openvend.api.audit.views import AuditLogViewSet
from openvend.api.auth.views import TokenView
from openvend.api.catalog import pricing, products
from openvend.api.devices.views import (
    AlarmSettingsViewSet,
    AlarmViewSet,
    CommandViewSet,
    DeviceKindViewSet,
    DeviceRegistrationViewSet,
    DeviceViewSet,
)
from openvend.api.inventory import planograms, replenishment, stock
from openvend.api.merchants.views import DeviceGroupViewSet, MerchantViewSet, OrgUnitViewSet, SiteViewSet
from openvend.api.orders import shopping
from openvend.api.orders import views as orders
from openvend.api.orders.shopping import OrderPolicyView
from openvend.api.payments import views as payments

router = DefaultRouter()
router.include_root_view = False
router.register("merchants", MerchantViewSet, basename="merchant")
router.register("org-units", OrgUnitViewSet, basename="orgunit")
router.register("sites", SiteViewSet, basename="site")
router.register("device-groups", DeviceGroupViewSet, basename="devicegroup")
router.register("users", UserViewSet, basename="user")
router.register("roles", RoleViewSet, basename="role")
router.register("audit-log", AuditLogViewSet, basename="auditlogentry")
router.register("device-kinds", DeviceKindViewSet, basename="devicekind")
router.register("device-registrations", DeviceRegistrationViewSet, basename="deviceregistration")
router.register("devices", DeviceViewSet, basename="device")
router.register("commands", CommandViewSet, basename="command")
router.register("alarms", AlarmViewSet, basename="alarm")
router.register("alarm-settings", AlarmSettingsViewSet, basename="alarmsettings")
for area in (products, pricing, planograms, stock, replenishment, payments, orders, shopping):
    area.register(router)

app_name = "api"
urlpatterns = [
    path("auth/token", TokenView.as_view(), name="token"),
    path("order-policy/", OrderPolicyView.as_view(), name="orderpolicy"),
    path("", include(router.urls)),
]
