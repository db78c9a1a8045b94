from django.contrib.auth.views import LogoutView
from django.urls import include, path

from openvend.mobile import restock, stock, views

app_name = "mobile"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.MobileLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="mobile:login"), name="logout"),
    path("scan/<str:token>/", views.scan, name="scan"),
    path("devices/activate/", views.activate_device, name="activate-device"),
    *stock.urlpatterns,
    *restock.urlpatterns,
    path("c/", include("openvend.mobile.consumer.urls")),
]
