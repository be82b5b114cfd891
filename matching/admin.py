"""The matcher's durable state: read-only (changing a checkpoint or epoch by hand would
let a command apply twice or a fenced-out matcher commit)."""

from django.contrib import admin

from exchange.backoffice.admin_base import ReadOnlyModelAdmin
from matching.models import CommandLog, MarketCheckpoint


@admin.register(MarketCheckpoint)
class MarketCheckpointAdmin(ReadOnlyModelAdmin):
    list_display = ("market", "last_sequence", "epoch", "updated_at")


@admin.register(CommandLog)
class CommandLogAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "market", "sequence")
    list_filter = ("market",)
    show_full_result_count = False
