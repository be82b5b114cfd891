"""/api/v1 wallet endpoints: parse, call one service or selector, render."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange.api import ServiceError
from wallets import selectors, services
from wallets.api import schemas
from wallets.fields import StrictAmountField
from wallets.models import Asset
from wallets.parsers import RawNumberJSONParser


def _asset(symbol) -> Asset:
    asset = Asset.objects.filter(symbol=str(symbol or "").upper()).first()
    if asset is None:
        raise ServiceError("unknown_asset", "No such asset.",
                           fields={"asset": {"code": "unknown_asset", "message": "Unknown."}})
    return asset


class AmountRequest(serializers.Serializer):
    asset = serializers.CharField(max_length=12)
    amount = StrictAmountField()

    def validate(self, attrs):
        attrs["asset"] = _asset(attrs["asset"])
        try:
            self.fields["amount"].check_precision(attrs["amount"], attrs["asset"].precision)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"amount": exc.detail}) from exc
        return attrs


class WithdrawalRequest(AmountRequest):
    address = serializers.CharField(max_length=100)
    otp_code = serializers.CharField(max_length=32, required=False, allow_blank=True)


class AddressRequest(serializers.Serializer):
    asset = serializers.CharField(max_length=12)
    address = serializers.CharField(max_length=100)
    label = serializers.CharField(max_length=64, required=False, allow_blank=True)


class WalletView(APIView):
    parser_classes = [RawNumberJSONParser, FormParser]
    required_scope = "read"


def _amount(value) -> str:
    return format(value, "f")


def _withdrawal(w) -> dict:
    return {"id": w.id, "asset": w.asset.symbol, "address": w.address,
            "amount": _amount(w.amount), "fee": _amount(w.fee), "status": w.status,
            "approvals_required": w.approvals_required, "txid": w.txid, "reason": w.reason,
            "created": w.created_at.isoformat(),
            "completed": w.completed_at.isoformat() if w.completed_at else None}


def _deposit(d) -> dict:
    return {"id": d.id, "asset": d.asset.symbol, "address": d.address, "txid": d.txid,
            "output_index": d.output_index, "amount": _amount(d.amount),
            "confirmations": d.confirmations,
            "confirmations_required": d.asset.confirmations_required, "status": d.status,
            "created": d.created_at.isoformat(),
            "credited": d.credited_at.isoformat() if d.credited_at else None}


@schemas.BALANCES
class BalancesView(WalletView):
    def get(self, request):
        return Response([{"asset": b.asset.symbol, "available": _amount(b.available),
                          "locked": _amount(b.locked)}
                         for b in selectors.balances_for_user(user=request.user)])


class LedgerPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


@schemas.LEDGER
class LedgerView(WalletView):
    def get(self, request):
        qs = selectors.ledger_lines_for_user(
            user=request.user, asset=request.query_params.get("asset"),
            kind=request.query_params.get("kind"))
        paginator = LedgerPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([
            {"id": line.id, "entry_id": line.entry_id, "kind": line.entry.kind,
             "ref_type": line.entry.ref_type, "ref_id": line.entry.ref_id,
             "account": line.account, "asset": line.asset.symbol,
             "amount": _amount(line.amount), "time": line.entry.created_at.isoformat()}
            for line in page])


@schemas.DEPOSIT_ADDRESS
class DepositAddressView(WalletView):
    def get(self, request):
        asset = _asset(request.query_params.get("asset"))
        address = services.deposit_address_get(user=request.user, asset=asset)
        return Response({"asset": asset.symbol, "address": address.address})


@schemas.DEPOSITS
class DepositsView(WalletView):
    def get(self, request):
        return Response([_deposit(d) for d in selectors.deposits_for_user(user=request.user)])


@schemas.DEPOSIT_SIMULATE
class DepositSimulateView(WalletView):
    """Development only (``WALLETS_SIMULATED_CHAIN``): the simulated chain pays the
    user's deposit address."""

    required_scope = "trade"

    def post(self, request):
        if not settings.WALLETS_SIMULATED_CHAIN:
            raise ServiceError("not_found", "Not available.", http_status=404)
        data = AmountRequest(data=request.data)
        data.is_valid(raise_exception=True)
        deposit = services.chain_deposit_simulate(user=request.user, **data.validated_data)
        return Response(_deposit(deposit), status=201)


@schemas.WITHDRAWALS
class WithdrawalsView(WalletView):
    def get_permissions(self):
        self.required_scope = "withdraw" if self.request.method == "POST" else "read"
        return super().get_permissions()

    def get(self, request):
        return Response([_withdrawal(w)
                         for w in selectors.withdrawals_for_user(user=request.user)])

    def post(self, request):
        data = WithdrawalRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        withdrawal = services.withdrawal_request(
            user=request.user, asset=v["asset"], address=v["address"], amount=v["amount"],
            otp_code=v.get("otp_code", ""), request=request)
        return Response(_withdrawal(withdrawal), status=201)


@schemas.WITHDRAWAL_CANCEL
class WithdrawalCancelView(WalletView):
    required_scope = "withdraw"

    def post(self, request, withdrawal_id: int):
        withdrawal = services.withdrawal_cancel(user=request.user, withdrawal_id=withdrawal_id)
        return Response(_withdrawal(withdrawal))


def _address(a) -> dict:
    return {"id": a.id, "asset": a.asset.symbol, "address": a.address, "label": a.label,
            "usable_after": a.usable_after.isoformat()}


@schemas.ADDRESS_BOOK
class AddressBookView(WalletView):
    def get_permissions(self):
        self.required_scope = "withdraw" if self.request.method == "POST" else "read"
        return super().get_permissions()

    def get(self, request):
        return Response([_address(a)
                         for a in selectors.withdrawal_addresses_for_user(user=request.user)])

    def post(self, request):
        data = AddressRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        entry = services.withdrawal_address_add(user=request.user, asset=_asset(v["asset"]),
                                                address=v["address"], label=v.get("label", ""))
        return Response(_address(entry), status=201)


@schemas.ADDRESS_BOOK_ENTRY
class AddressBookEntryView(WalletView):
    required_scope = "withdraw"

    def delete(self, request, address_id: int):
        services.withdrawal_address_remove(user=request.user, address_id=address_id)
        return Response(status=204)
