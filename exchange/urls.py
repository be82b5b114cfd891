"""Root URLs. Each app owns its pages (``<app>/urls.py``) and its part of the native API
(``<app>/api/urls.py``, mounted under /api/v1/); the Binance-compatible API is mounted
under /api/v3/ from ``exchange/binance``."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from exchange import views

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("wallets.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("marketdata.api.urls")),
    path("exports/", include("exchange.backoffice.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/v3/", include("exchange.binance.urls")),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("accounts.urls")),
    path("wallet/", include("wallets.urls")),
    path("orders/", include("orders.urls")),
    path("", include("marketdata.urls")),
    path("", include("exchange.ui.urls")),
]
