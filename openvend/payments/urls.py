from django.urls import path

from openvend.payments import webhooks

app_name = "payments"
urlpatterns = [
    path("notify/wechat/", webhooks.wechat_notify, name="notify-wechat"),
    path("notify/alipay/", webhooks.alipay_notify, name="notify-alipay"),
]
