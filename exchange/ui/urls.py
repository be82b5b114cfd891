from django.urls import path

from exchange.ui import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("trade/", views.trade_default, name="trade-default"),
    path("trade/<str:symbol>/", views.trade, name="trade"),
    path("wallet/", views.wallet, name="wallet-page"),
    path("account/", views.account, name="account-page"),
]
