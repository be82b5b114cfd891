"""A user's own exports: GET /api/v1/exports/{trades|ledger}.csv?start=YYYY-MM-DD&end=...

Session or API key (read scope) authentication; only the caller's own rows."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from exchange.backoffice import exports


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
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description="Your own history as CSV, streamed.",
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
