"""A user's own exports: GET /api/v1/exports/{trades|ledger}.csv?start=YYYY-MM-DD&end=...

Session or API key (read scope) authentication; only the caller's own rows."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from exchange.backoffice import exports
from exchange.openapi import AUTH_ERRORS, error_responses


def _scope_permission_classes():
    try:
        from accounts.permissions import ScopePermission
    except ImportError:
        return [IsAuthenticated]
    return [IsAuthenticated, ScopePermission]


class ExportView(APIView):
    kind = "trades"
    required_scope = "read"
    rate_limit_weight = 10

    def get_permissions(self):
        return [cls() for cls in _scope_permission_classes()]

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True,
                             description="First UTC day, YYYY-MM-DD (inclusive)"),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True,
                             description="Last UTC day, YYYY-MM-DD (inclusive, ≤ 366 days)"),
        ],
        responses={(200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR, description="CSV with a header row.",
            examples=[OpenApiExample("csv", response_only=True, media_type="text/csv",
                                     value="trade_id,time,market,side,price,quantity,...\r\n"
                                           "5001,2025-01-02T03:04:05Z,BTC-USDT,BUY,"
                                           "60000.00,0.0100,...\r\n")]),
                   **error_responses(400, *AUTH_ERRORS)},
        summary="Export my history as CSV",
        description="Your own history as CSV, streamed. Session, or an API key with the "
                    "`read` scope.",
    )
    def get(self, request):
        since, until = exports.date_range_parse(
            start=request.query_params.get("start"), end=request.query_params.get("end")
        )
        return exports.export_response(kind=self.kind, since=since, until=until,
                                       user=request.user)


class TradesExportView(ExportView):
    kind = "trades"


class LedgerExportView(ExportView):
    kind = "ledger"
