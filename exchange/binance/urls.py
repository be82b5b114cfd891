from django.urls import path

from exchange.binance import views

urlpatterns = [
    path("ping", views.ping, name="binance-ping"),
]
