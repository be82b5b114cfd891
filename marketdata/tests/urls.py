"""The market-data API alone under /api/v1/, so these tests do not depend on the other
apps' URL modules."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("marketdata.api.urls"))]
