"""Mounted at /api/v1/ (exchange/urls.py)."""

from django.urls import path

from orders.api import views

urlpatterns = [
    path("orders", views.OrdersView.as_view(), name="api-orders"),
    path("orders/open", views.OpenOrdersView.as_view(), name="api-orders-open"),
    path("orders/cancel-all", views.CancelAllView.as_view(), name="api-orders-cancel-all"),
    path("orders/by-client-id/<str:client_order_id>", views.OrderDetailView.as_view(),
         name="api-order-by-client-id"),
    path("orders/<int:order_id>", views.OrderDetailView.as_view(), name="api-order"),
    path("orders/<int:order_id>/amend", views.OrderAmendView.as_view(), name="api-order-amend"),
    path("trades", views.MyTradesView.as_view(), name="api-my-trades"),
]
