"""The staff audit log (read-only for everyone) and the back-office site extensions.

Importing this module (admin autodiscovery) also adds the dashboard and export pages to
the admin site and keeps the staff roles in sync after every ``migrate``."""

from django.contrib import admin
from django.db.models.signals import post_migrate

from exchange.backoffice import site as backoffice_site
from exchange.backoffice.admin_base import ReadOnlyModelAdmin
from exchange.backoffice.roles import roles_sync_on_post_migrate
from exchange.models import StaffAuditLog

backoffice_site.install(admin.site)
post_migrate.connect(roles_sync_on_post_migrate, dispatch_uid="exchange.roles_sync")


@admin.register(StaffAuditLog)
class StaffAuditLogAdmin(ReadOnlyModelAdmin):
    """Append-only: no add, change or delete here, not even for a superuser, and the
    database refuses UPDATE and DELETE on the table (migration 0002)."""

    list_display = ("created_at", "staff_user", "action", "object_type", "object_id",
                    "object_repr", "reason")
    list_filter = ("action", "object_type", ("staff_user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=object_id", "object_repr", "reason", "staff_user__email")
    list_select_related = ("staff_user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
