"""The base of every /api/v3 view: Binance's error shape, parameters from the query string
or a form body, and the order-count headers. Request weight (``X-MBX-USED-WEIGHT-1M``) is
counted and set by ``accounts.middleware.ApiWeightMiddleware`` from ``rate_limit_weight``."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from accounts.authentication import SignedRequestAuthentication
from accounts.permissions import ScopePermission
from accounts.ratelimit import ApiKeyWeightThrottle
from exchange.api import DecimalJSONParser
from exchange.binance.errors import binance_exception_handler
from exchange.binance.params import Params


class BinanceView(APIView):
    """Public (``NONE`` security) endpoint. Subclasses set ``rate_limit_weight``."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]
    parser_classes = [FormParser, MultiPartParser, DecimalJSONParser]
    schema = None  # /api/v3 follows Binance's documentation, not our OpenAPI schema
    rate_limit_weight = 1
    is_cancel = False
    counts_orders = False

    def get_exception_handler(self):
        return binance_exception_handler

    def params(self) -> Params:
        return Params(self.request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.counts_orders and request.user is not None and request.user.is_authenticated:
            from orders.models import Order

            now = timezone.now()
            recent = Order.objects.filter(user=request.user)
            response["X-MBX-ORDER-COUNT-10S"] = str(
                recent.filter(created_at__gte=now - timedelta(seconds=10)).count())
            response["X-MBX-ORDER-COUNT-1D"] = str(
                recent.filter(created_at__gte=now - timedelta(days=1)).count())
        return response


class SignedView(BinanceView):
    """``USER_DATA`` / ``TRADE`` endpoint: HMAC-signed with an API key (accounts)."""

    authentication_classes = [SignedRequestAuthentication]
    permission_classes = [IsAuthenticated, ScopePermission]
    throttle_classes = [ApiKeyWeightThrottle]
    required_scope = "read"


class TradeView(SignedView):
    required_scope = "trade"
    counts_orders = True
