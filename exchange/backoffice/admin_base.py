"""Shared admin building blocks."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Viewable with the model's view permission; nobody (not even a superuser) can add,
    change or delete through the admin. Used for money (balances, the ledger), the audit
    logs, and rows only the matcher writes."""

    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = [f.name for f in self.model._meta.concrete_fields]
        return [*fields, *super().get_readonly_fields(request, obj)]


def require_perm(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied
