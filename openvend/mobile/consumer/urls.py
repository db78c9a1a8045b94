from django.urls import path
from django.views.generic import RedirectView

from openvend.mobile.consumer import (
    views_orders,
    views_payafter,
    views_receipt,
    views_shop,
    views_signin,
    views_visit,
)

app_name = "consumer"
urlpatterns = [
    path("<slug:merchant_code>/", RedirectView.as_view(pattern_name="mobile:consumer:payment"), name="home"),
    path("<slug:merchant_code>/signin/", views_signin.signin, name="signin"),
    path("<slug:merchant_code>/signin/<str:provider>/", views_signin.oauth_start, name="oauth-start"),
    path("<slug:merchant_code>/oauth/<str:provider>/", views_signin.oauth_callback, name="oauth-callback"),
    path("<slug:merchant_code>/signout/", views_signin.signout, name="signout"),
    path("<slug:merchant_code>/pay-after/", views_payafter.payment, name="payment"),
    path(
        "<slug:merchant_code>/pay-after/<str:method>/authorise/",
        views_payafter.authorise,
        name="authorise",
    ),
    path(
        "<slug:merchant_code>/pay-after/<str:method>/return/",
        views_payafter.authorise_return,
        name="authorise-return",
    ),
    path("<slug:merchant_code>/pay-after/<str:method>/revoke/", views_payafter.revoke, name="revoke"),
    path("<slug:merchant_code>/orders/", views_orders.orders, name="orders"),
    path("<slug:merchant_code>/orders/<int:payment_id>/pay/", views_orders.pay, name="pay"),
    path("<slug:merchant_code>/orders/<int:payment_id>/back/", views_orders.pay_return, name="pay-return"),
    path(
        "<slug:merchant_code>/orders/<int:payment_id>/paid/<int:attempt_id>/",
        views_orders.pay_result,
        name="pay-result",
    ),
    path("<slug:merchant_code>/scan/<str:token>/", views_shop.scan, name="scan"),
    path("<slug:merchant_code>/scan/<str:token>/open/", views_shop.open_door, name="open-door"),
    path("<slug:merchant_code>/visits/<int:session_id>/", views_visit.visit, name="visit"),
    path("<slug:merchant_code>/visits/<int:session_id>/state/", views_visit.visit_state, name="visit-state"),
    path("<slug:merchant_code>/visits/<int:session_id>/cart/", views_visit.cart_update, name="cart"),
    path("<slug:merchant_code>/visits/<int:session_id>/barcode/", views_visit.cart_barcode, name="barcode"),
    path("<slug:merchant_code>/visits/<int:session_id>/checkout/", views_visit.checkout, name="checkout"),
    path("<slug:merchant_code>/visits/<int:session_id>/leave/", views_visit.leave, name="leave"),
    path("<slug:merchant_code>/receipts/<str:number>/", views_receipt.receipt, name="receipt"),
    path("<slug:merchant_code>/receipts/<str:number>/appeal/", views_receipt.appeal, name="appeal"),
]
