"""Back-office models: the staff audit log and the holder of back-office permissions.

The audit log is append-only: the admin offers no add, change or delete, and a database
trigger (migration 0002) refuses UPDATE and DELETE on its table for everyone."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class BackOffice(models.Model):
    """No table: only the custom permissions that staff roles are made of."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("dashboard_view", "Can view the back-office dashboard"),
            ("user_freeze", "Can freeze and unfreeze user accounts"),
            ("user_overview", "Can view a user's full overview page"),
            ("kyc_decide", "Can approve or reject KYC submissions"),
            ("kyc_document_view", "Can view KYC documents"),
            ("withdrawal_decide", "Can approve or reject withdrawals"),
            ("adjustment_post", "Can post balance adjustments"),
            ("market_control", "Can halt, resume, set cancel-only and cancel all orders"),
            ("export_staff", "Can export trades and ledger entries of any user"),
        ]

    def __str__(self) -> str:
        return "back office"


class StaffAuditLog(models.Model):
    """One thing a staff member did: who, what, when, to which object, before and after,
    and why. Written only through ``exchange.backoffice.services.staff_action_record``."""

    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, db_index=True)  # "app_label.model"
    object_id = models.CharField(max_length=64, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    reason = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        verbose_name = "staff audit entry"
        verbose_name_plural = "staff audit log"
        indexes = [models.Index(fields=["object_type", "object_id", "-id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.staff_user_id} {self.action}"
