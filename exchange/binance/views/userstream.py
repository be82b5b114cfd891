"""``userDataStream``: listen keys for the user data stream (``/ws/<listenKey>``), thin
over ``marketdata.listen_keys``."""

from __future__ import annotations

from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from exchange.binance import errors as E
from exchange.binance.auth import ApiKeyHeaderAuthentication
from exchange.binance.errors import BinanceError
from exchange.binance.views.base import BinanceView
from marketdata import listen_keys


class UserDataStream(BinanceView):
    authentication_classes = [ApiKeyHeaderAuthentication]
    permission_classes = [IsAuthenticated]
    rate_limit_weight = 2

    def post(self, request):
        return Response({"listenKey": listen_keys.listen_key_create(user_id=request.user.pk)})

    def put(self, request):
        key = self.params().required("listenKey")
        if not listen_keys.listen_key_keepalive(user_id=request.user.pk, listen_key=key):
            raise BinanceError(E.INVALID_LISTEN_KEY, "This listenKey does not exist.")
        return Response({})

    def delete(self, request):
        key = self.params().required("listenKey")
        if not listen_keys.listen_key_delete(user_id=request.user.pk, listen_key=key):
            raise BinanceError(E.INVALID_LISTEN_KEY, "This listenKey does not exist.")
        return Response({})
