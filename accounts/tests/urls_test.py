"""The project's URLs plus two tiny views signed-request tests need (used through
``override_settings(ROOT_URLCONF=...)``)."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class _TestOrderView(APIView):
    """Stands in for order entry: needs the ``trade`` scope."""

    required_scope = "trade"
    rate_limit_weight = 1

    def get(self, request):
        return Response({"user": request.user.email, "params": request.query_params})

    def post(self, request):
        return Response({"placed": True, "params": request.data})


class _TestAccountView(APIView):
    """A read-scoped endpoint that echoes the authenticated user."""

    required_scope = "read"

    def get(self, request):
        return Response({"user": request.user.email})


class _HeavyView(APIView):
    required_scope = "read"
    rate_limit_weight = 400

    def get(self, request):
        return Response({})


urlpatterns = [
    path("api/test/order", _TestOrderView.as_view()),
    path("api/test/account", _TestAccountView.as_view()),
    path("api/test/heavy", _HeavyView.as_view()),
    path("", include("exchange.urls")),
]
