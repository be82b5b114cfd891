"""Money in the back office. Balances, journal entries and ledger lines are read-only for
everyone (no add, change or delete, even for a superuser): the only way staff change a
balance is the adjustment form, which posts a journal entry through
``wallets.services.adjustment_post``. Withdrawals are decided through the wallets
services (two different approvers above the second threshold)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, Count, IntegerField, Value, When
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from exchange.api import ServiceError
from exchange.backoffice import services
from exchange.backoffice.admin_base import ReadOnlyModelAdmin, require_perm
from wallets import models as wallet_models
from wallets.models import Asset, Balance

ASSET_FIELDS = ["symbol", "name", "precision", "deposits_enabled", "withdrawals_enabled",
                "confirmations_required", "withdrawal_fee", "min_withdrawal"]


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ASSET_FIELDS
    search_fields = ("symbol", "name")

    def get_readonly_fields(self, request, obj=None):
        return ("symbol", "precision") if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.staff_object_save(staff_user=request.user, obj=obj, changed=change,
                                   fields=ASSET_FIELDS, request=request)


class AdjustmentForm(forms.Form):
    user = forms.CharField(help_text="User id or email")
    asset = forms.ModelChoiceField(queryset=Asset.objects.all(), to_field_name="symbol")
    amount = forms.CharField(help_text="Signed decimal: +1.5 credits, -1.5 debits")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=500)

    def clean_user(self):
        from accounts.models import User

        value = self.cleaned_data["user"].strip()
        user = (User.objects.filter(pk=int(value)).first() if value.isdigit()
                else User.objects.filter(email__iexact=value).first())
        if user is None:
            raise forms.ValidationError("No such user.")
        return user

    def clean_amount(self):
        raw = self.cleaned_data["amount"].strip()
        try:
            amount = Decimal(raw)  # from the text, never through float
        except InvalidOperation as exc:
            raise forms.ValidationError("Not a decimal number.") from exc
        if not amount.is_finite() or amount == 0:
            raise forms.ValidationError("A non-zero amount is required.")
        return amount


@admin.register(Balance)
class BalanceAdmin(ReadOnlyModelAdmin):
    list_display = ("user", "asset", "available", "locked", "updated_at")
    list_filter = ("asset",)
    search_fields = ("user__email", "=user__id")
    list_select_related = ("user", "asset")
    change_list_template = "admin/wallets/balance/change_list.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("adjust/", wrap(self.adjust_view), name="wallets_balance_adjust"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}),
                         "can_adjust": request.user.has_perm("exchange.adjustment_post")}
        return super().changelist_view(request, extra_context)

    def adjust_view(self, request):
        require_perm(request, "exchange.adjustment_post")
        initial = {"user": request.GET.get("user", "")}
        form = AdjustmentForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                entry = services.staff_adjustment_post(
                    staff_user=request.user, user=data["user"], asset=data["asset"],
                    amount=data["amount"], reason=data["reason"], request=request)
            except ServiceError as exc:
                form.add_error(None, f"{exc.message} ({exc.code})")
            else:
                messages.success(request, f"Adjustment posted as journal entry #{entry.pk}.")
                return HttpResponseRedirect(
                    reverse("admin:accounts_user_change", args=[data["user"].pk]))
        context = {**self.admin_site.each_context(request), "title": "Post a balance adjustment",
                   "form": form, "opts": self.model._meta}
        return TemplateResponse(request, "admin/wallets/balance/adjust.html", context)


class LedgerLineInline(admin.TabularInline):
    model = wallet_models.LedgerLine
    extra = 0
    can_delete = False
    fields = ("account", "user", "asset", "amount")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(wallet_models.JournalEntry)
class JournalEntryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "kind", "ref_type", "ref_id", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("=id", "=ref_id")
    inlines = [LedgerLineInline]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(wallet_models.LedgerLine)
class LedgerLineAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "entry", "account", "user", "asset", "amount")
    list_filter = ("account", "asset")
    search_fields = ("=entry__id", "user__email")
    list_select_related = ("entry", "user", "asset")
    show_full_result_count = False


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=500,
                             required=False)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "A reason is required to reject.")
        return data


@admin.register(wallet_models.Withdrawal)
class WithdrawalAdmin(ReadOnlyModelAdmin):
    """The withdrawal queue: awaiting a decision first, oldest first."""

    list_display = ("id", "user", "asset", "amount", "fee", "status", "approvals",
                    "age", "address")
    list_filter = ("status", "asset")
    search_fields = ("=id", "user__email", "address", "txid")
    list_select_related = ("user", "asset")
    change_form_template = "admin/wallets/withdrawal/change_form.html"

    def get_queryset(self, request):
        Status = wallet_models.Withdrawal.Status
        qs = self.model._default_manager.get_queryset().annotate(
            queue_rank=Case(When(status=Status.REQUESTED, then=Value(0)),
                            When(status=Status.APPROVED, then=Value(1)),
                            When(status=Status.PROCESSING, then=Value(2)),
                            default=Value(3), output_field=IntegerField()),
            approval_count=Count("approvals"),
        )
        # Annotate before ordering by the annotation (ModelAdmin orders in get_queryset).
        return qs.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ("queue_rank", "created_at", "id")

    @admin.display(description="approvals")
    def approvals(self, obj):
        return f"{obj.approval_count}/{obj.approvals_required}"

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return timesince(obj.created_at, timezone.now())

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("<int:withdrawal_id>/decide/", wrap(self.decide_view),
                     name="wallets_withdrawal_decide"),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        withdrawal = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if withdrawal is not None:
            approvals = list(withdrawal.approvals.select_related("staff_user")
                             .order_by("created_at"))
            extra_context.update(
                approvals_list=approvals,
                can_decide=(request.user.has_perm("exchange.withdrawal_decide")
                            and withdrawal.status in (wallet_models.Withdrawal.Status.REQUESTED,
                                                      wallet_models.Withdrawal.Status.APPROVED)),
                can_approve=(withdrawal.status == wallet_models.Withdrawal.Status.REQUESTED
                             and withdrawal.approvals_required > 0),
                already_approved=any(a.staff_user_id == request.user.pk for a in approvals),
                decision_form=DecisionForm(),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, withdrawal_id):
        require_perm(request, "exchange.withdrawal_decide")
        withdrawal = get_object_or_404(wallet_models.Withdrawal, pk=withdrawal_id)
        back = HttpResponseRedirect(
            reverse("admin:wallets_withdrawal_change", args=[withdrawal.pk]))
        if request.method != "POST":
            return back
        form = DecisionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, "; ".join(errors))
            return back
        data = form.cleaned_data
        try:
            if data["decision"] == "approve":
                withdrawal = services.staff_withdrawal_approve(
                    staff_user=request.user, withdrawal=withdrawal, reason=data["reason"],
                    request=request)
            else:
                withdrawal = services.staff_withdrawal_reject(
                    staff_user=request.user, withdrawal=withdrawal, reason=data["reason"],
                    request=request)
        except ServiceError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")
        else:
            messages.success(request, f"Withdrawal #{withdrawal.pk}: now {withdrawal.status}.")
        return back


@admin.register(wallet_models.ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "started_at", "finished_at", "ok", "difference_count")
    list_filter = ("ok",)


@admin.register(wallet_models.Deposit)
class DepositAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "user", "asset", "amount", "confirmations", "status", "created_at")
    list_filter = ("status", "asset")
    search_fields = ("=id", "user__email", "txid", "address")
    list_select_related = ("user", "asset")


for _name in ("DepositAddress", "WithdrawalAddress", "WithdrawalApproval", "ChainBroadcast"):
    _model = getattr(wallet_models, _name, None)
    if _model is not None:
        admin.site.register(_model, ReadOnlyModelAdmin)
