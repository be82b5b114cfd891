"""Mounted under /api/v1/exports/ (exchange/urls.py)."""

from django.urls import path

from exchange.backoffice import views

urlpatterns = [
    path("trades.csv", views.TradesExportView.as_view(), name="export-trades"),
    path("ledger.csv", views.LedgerExportView.as_view(), name="export-ledger"),
]
