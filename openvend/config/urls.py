from django.conf import settings
from django.conf.urls.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

import openvend.consoles.admin  # noqa: F401  (registers the model admins on both consoles)
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core import health

urlpatterns = [
    path("", RedirectView.as_view(url="/console/", permanent=False)),
    path("platform/", platform_console.urls),
    path("console/", merchant_console.urls),
    path("m/", include("openvend.mobile.urls")),
    path("pay/", include("openvend.payments.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("openvend.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
