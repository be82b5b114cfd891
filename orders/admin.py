"""Orders and their commands are written by order entry and the matcher only: read-only.
Staff cancel a market's orders from the market page (marketdata admin)."""

from django.contrib import admin

from exchange.backoffice.admin_base import ReadOnlyModelAdmin
from orders.models import Order, OrderCommand


@admin.register(Order)
class OrderAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "user", "market", "side", "type", "price", "quantity",
                    "filled_quantity", "status", "created_at")
    list_filter = ("status", "market", "side", "type")
    search_fields = ("=id", "=client_order_id", "user__email")
    list_select_related = ("user", "market")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(OrderCommand)
class OrderCommandAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "market", "kind", "order", "status", "user", "sequence", "outcome",
                    "created_at")
    list_filter = ("kind", "market")
    list_select_related = ("market", "user")
    show_full_result_count = False
