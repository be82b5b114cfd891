"""OpenAPI declarations of the wallet endpoints of /api/v1 (drf-spectacular). Schema only:
the views validate with their own serializers; these describe the wire shapes (amounts are
decimal strings), with examples. Each view carries one ``@schemas.<NAME>`` decorator."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from exchange.openapi import AUTH_ERRORS, error_responses

TAG = "wallet"
AMOUNT_HELP = ("Decimal string (a JSON number is judged by its text): positive, no exponent, "
               "at most the asset's precision in decimals.")


def _amount(**kwargs):
    return serializers.CharField(help_text="Decimal string.", **kwargs)


class BalanceOut(serializers.Serializer):
    asset = serializers.CharField()
    available = _amount()
    locked = _amount()


class LedgerLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    entry_id = serializers.IntegerField()
    kind = serializers.CharField(help_text="deposit, withdrawal, withdrawal_fee, trade, fee, "
                                           "adjustment, reserve or release.")
    ref_type = serializers.CharField()
    ref_id = serializers.CharField()
    account = serializers.CharField(help_text="available or locked.")
    asset = serializers.CharField()
    amount = serializers.CharField(help_text="Signed decimal string.")
    time = serializers.DateTimeField()


class LedgerPageOut(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="Next page (older lines).")
    previous = serializers.URLField(allow_null=True)
    results = LedgerLineOut(many=True)


class DepositAddressOut(serializers.Serializer):
    asset = serializers.CharField()
    address = serializers.CharField()


class DepositOut(serializers.Serializer):
    id = serializers.IntegerField()
    asset = serializers.CharField()
    address = serializers.CharField()
    txid = serializers.CharField()
    output_index = serializers.IntegerField()
    amount = _amount()
    confirmations = serializers.IntegerField()
    confirmations_required = serializers.IntegerField()
    status = serializers.CharField(help_text="PENDING, CREDITED, ...")
    created = serializers.DateTimeField()
    credited = serializers.DateTimeField(allow_null=True)


class WithdrawalOut(serializers.Serializer):
    id = serializers.IntegerField()
    asset = serializers.CharField()
    address = serializers.CharField()
    amount = _amount()
    fee = _amount()
    status = serializers.CharField(
        help_text="REQUESTED, APPROVED, PROCESSING, COMPLETED, REJECTED or CANCELLED.")
    approvals_required = serializers.IntegerField()
    txid = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    created = serializers.DateTimeField()
    completed = serializers.DateTimeField(allow_null=True)


class AddressOut(serializers.Serializer):
    id = serializers.IntegerField()
    asset = serializers.CharField()
    address = serializers.CharField()
    label = serializers.CharField(allow_blank=True)
    usable_after = serializers.DateTimeField(
        help_text="New addresses cool down before a withdrawal may use them.")


class AmountIn(serializers.Serializer):
    asset = serializers.CharField(max_length=12, help_text="Asset symbol, e.g. BTC.")
    amount = serializers.CharField(help_text=AMOUNT_HELP)


class WithdrawalIn(AmountIn):
    address = serializers.CharField(max_length=100)
    otp_code = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                     help_text="Required when 2FA is on.")


class AddressIn(serializers.Serializer):
    asset = serializers.CharField(max_length=12)
    address = serializers.CharField(max_length=100)
    label = serializers.CharField(max_length=64, required=False, allow_blank=True)


def _example(name: str, value, *, request: bool = False, status: int = 200):
    if request:
        return OpenApiExample(name, value=value, request_only=True)
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


_DEPOSIT = {"id": 12, "asset": "BTC", "address": "bcrt1qexampleaddress", "txid": "9f2c...e1",
            "output_index": 0, "amount": "0.50000000", "confirmations": 3,
            "confirmations_required": 2, "status": "CREDITED",
            "created": "2025-01-02T03:04:05+00:00", "credited": "2025-01-02T03:14:05+00:00"}
_WITHDRAWAL = {"id": 4, "asset": "BTC", "address": "bc1qdestination", "amount": "0.10000000",
               "fee": "0.00010000", "status": "REQUESTED", "approvals_required": 0,
               "txid": "", "reason": "", "created": "2025-01-02T03:04:05+00:00",
               "completed": None}
_ADDRESS = {"id": 2, "asset": "BTC", "address": "bc1qdestination", "label": "cold storage",
            "usable_after": "2025-01-03T03:04:05+00:00"}
_SCOPES = " Session, or an API key with the `{}` scope."

BALANCES = extend_schema_view(get=extend_schema(
    tags=[TAG], summary="My balances",
    description="Available and locked (reserved by open orders and pending withdrawals) "
                "per asset." + _SCOPES.format("read"),
    responses={200: BalanceOut(many=True), **error_responses(*AUTH_ERRORS)},
    examples=[_example("balances", [{"asset": "BTC", "available": "1.25000000",
                                     "locked": "0.10000000"}])]))

LEDGER = extend_schema_view(get=extend_schema(
    tags=[TAG], summary="My ledger lines",
    description="Every movement of my available and locked balances, newest first, with "
                "cursor pagination (`next`/`previous` links)." + _SCOPES.format("read"),
    parameters=[
        OpenApiParameter("asset", str, description="Only this asset (symbol)."),
        OpenApiParameter("kind", str, description="Only this entry kind (e.g. deposit)."),
        OpenApiParameter("limit", int, description="Page size, default 50, at most 200."),
        OpenApiParameter("cursor", str, description="Opaque cursor from `next`/`previous`."),
    ],
    responses={200: LedgerPageOut, **error_responses(*AUTH_ERRORS, 404)},
    examples=[_example("page", {
        "next": "https://bourse.example/api/v1/ledger?cursor=cD0xMjM%3D", "previous": None,
        "results": [{"id": 31, "entry_id": 15, "kind": "deposit", "ref_type": "deposit",
                     "ref_id": "12", "account": "available", "asset": "BTC",
                     "amount": "0.50000000", "time": "2025-01-02T03:14:05+00:00"}]})]))

DEPOSIT_ADDRESS = extend_schema_view(get=extend_schema(
    tags=[TAG], summary="My deposit address for an asset",
    description="Created on first use, then always the same." + _SCOPES.format("read"),
    parameters=[OpenApiParameter("asset", str, required=True, description="Asset symbol.")],
    responses={200: DepositAddressOut, **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("address", {"asset": "BTC", "address": "bcrt1qexampleaddress"})]))

DEPOSITS = extend_schema_view(get=extend_schema(
    tags=[TAG], summary="My deposits",
    description="Seen on chain, with confirmations; credited once confirmed."
                + _SCOPES.format("read"),
    responses={200: DepositOut(many=True), **error_responses(*AUTH_ERRORS)},
    examples=[_example("deposits", [_DEPOSIT])]))

DEPOSIT_SIMULATE = extend_schema_view(post=extend_schema(
    tags=[TAG], summary="Simulate a deposit (development)",
    description="Only where the simulated chain is enabled (`WALLETS_SIMULATED_CHAIN`, "
                "404 `not_found` elsewhere): pays my deposit address." + _SCOPES.format("trade"),
    request=AmountIn,
    responses={201: DepositOut, **error_responses(400, *AUTH_ERRORS, 404)},
    examples=[_example("deposit", {"asset": "BTC", "amount": "0.5"}, request=True),
              _example("deposit", _DEPOSIT, status=201)]))

WITHDRAWALS = extend_schema_view(
    get=extend_schema(
        tags=[TAG], summary="My withdrawals",
        description="Newest first." + _SCOPES.format("read"),
        responses={200: WithdrawalOut(many=True), **error_responses(*AUTH_ERRORS)},
        examples=[_example("withdrawals", [_WITHDRAWAL])]),
    post=extend_schema(
        tags=[TAG], summary="Request a withdrawal",
        description="To an address-book entry past its cool-down; holds amount + fee; "
                    "needs `otp_code` when 2FA is on; within the KYC tier's daily limit; "
                    "large amounts wait for staff approval." + _SCOPES.format("withdraw"),
        request=WithdrawalIn,
        responses={201: WithdrawalOut, **error_responses(400, *AUTH_ERRORS)},
        examples=[_example("withdraw", {"asset": "BTC", "amount": "0.1",
                                        "address": "bc1qdestination", "otp_code": "123456"},
                           request=True),
                  _example("requested", _WITHDRAWAL, status=201)]),
)

WITHDRAWAL_CANCEL = extend_schema_view(post=extend_schema(
    tags=[TAG], summary="Cancel a withdrawal",
    description="Only before it is paid out; releases the hold." + _SCOPES.format("withdraw"),
    request=None, responses={200: WithdrawalOut, **error_responses(400, *AUTH_ERRORS, 404)},
    examples=[_example("cancelled", {**_WITHDRAWAL, "status": "CANCELLED"})]))

ADDRESS_BOOK = extend_schema_view(
    get=extend_schema(
        tags=[TAG], summary="My withdrawal address book",
        description=_SCOPES.format("read").strip(),
        responses={200: AddressOut(many=True), **error_responses(*AUTH_ERRORS)},
        examples=[_example("addresses", [_ADDRESS])]),
    post=extend_schema(
        tags=[TAG], summary="Add a withdrawal address",
        description="Usable after a cool-down (`usable_after`)." + _SCOPES.format("withdraw"),
        request=AddressIn,
        responses={201: AddressOut, **error_responses(400, *AUTH_ERRORS)},
        examples=[_example("add", {"asset": "BTC", "address": "bc1qdestination",
                                   "label": "cold storage"}, request=True),
                  _example("added", _ADDRESS, status=201)]),
)

ADDRESS_BOOK_ENTRY = extend_schema_view(delete=extend_schema(
    tags=[TAG], summary="Remove a withdrawal address",
    description="Another user's entry is 404." + _SCOPES.format("withdraw"),
    responses={204: OpenApiResponse(description="Removed."),
               **error_responses(*AUTH_ERRORS, 404)}))
