"""Markets: rules are edited here (audited); status changes and cancel-all go through the
orders services, which send them down the market's stream to the running matcher."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from exchange.api import ServiceError
from exchange.backoffice import services
from exchange.backoffice.admin_base import ReadOnlyModelAdmin, require_perm
from marketdata.models import Candle, Market, Trade

CONTROL_OPS = {
    "halt": ("Halt", Market.Status.HALTED),
    "resume": ("Resume trading", Market.Status.TRADING),
    "cancel_only": ("Set cancel-only", Market.Status.CANCEL_ONLY),
    "cancel_all": ("Cancel all open orders", None),
}


class ControlForm(forms.Form):
    op = forms.ChoiceField(choices=[(k, v[0]) for k, v in CONTROL_OPS.items()],
                           widget=forms.HiddenInput)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=500,
                             required=False)

    def clean(self):
        data = super().clean()
        if data.get("op") == "cancel_all" and not (data.get("reason") or "").strip():
            self.add_error("reason", "A reason is required to cancel every order.")
        return data


def market_control_apply(request, market, *, op: str, reason: str) -> None:
    """Runs one control operation for ``market`` and reports it as an admin message."""
    label, status = CONTROL_OPS[op]
    try:
        if status is None:
            count = services.staff_market_cancel_all_orders(
                staff_user=request.user, market=market, reason=reason, request=request)
            messages.success(request, f"{market}: cancel requested for {count} open orders.")
        else:
            services.staff_market_status_set(staff_user=request.user, market=market,
                                             status=status, reason=reason, request=request)
            messages.success(request, f"{market}: {label.lower()} sent to the matcher.")
    except ServiceError as exc:
        messages.error(request, f"{market}: {exc.message} ({exc.code})")


def _control_action(op: str):
    label = CONTROL_OPS[op][0]

    def action(modeladmin, request, queryset):
        data = None
        if "apply" in request.POST:
            data = request.POST.copy()
            data["op"] = op  # the action chose the operation, not the form
        form = ControlForm(data, initial={"op": op})
        if "apply" in request.POST and form.is_valid():
            for market in queryset.order_by("pk"):
                market_control_apply(request, market, op=op, reason=form.cleaned_data["reason"])
            return None
        context = {
            **modeladmin.admin_site.each_context(request), "title": f"{label}: confirm",
            "form": form, "queryset": queryset, "op": op, "label": label,
            "action_name": f"market_{op}", "opts": modeladmin.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/marketdata/market/control_confirm.html",
                                context)

    action.__name__ = f"market_{op}"
    return admin.action(description=f"{label} (selected markets)",
                        permissions=["market_control"])(action)


class MarketRulesForm(forms.ModelForm):
    class Meta:
        model = Market
        fields = services.MARKET_RULE_FIELDS  # the admin narrows it to the editable ones

    def clean(self):
        data = super().clean()
        problem = services.market_unit_change_problem(
            market_id=self.instance.pk, tick_size=data.get("tick_size"),
            step_size=data.get("step_size"))
        if problem:
            raise forms.ValidationError(problem, code="market_has_open_orders")
        return data


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    form = MarketRulesForm
    list_display = ("symbol", "status", "base", "quote", "tick_size", "step_size",
                    "min_notional", "maker_fee", "taker_fee", "price_band_pct")
    list_filter = ("status",)
    search_fields = ("symbol",)
    readonly_fields = ("status",)
    change_form_template = "admin/marketdata/market/change_form.html"
    actions = [_control_action(op) for op in CONTROL_OPS]

    def has_delete_permission(self, request, obj=None):
        return False  # markets are halted, never deleted (trades and orders reference them)

    def has_market_control_permission(self, request):
        return request.user.has_perm("exchange.market_control")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # The pair of a market with orders and trades never changes.
            return ("status", "symbol", "base", "quote")
        return ("status",)

    def save_model(self, request, obj, form, change):
        services.staff_market_rules_save(staff_user=request.user, market=obj, changed=change,
                                         request=request)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:market_id>/control/", wrap(self.control_view),
                 name="marketdata_market_control"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}),
                         "can_control": self.has_market_control_permission(request),
                         "control_ops": [(k, v[0]) for k, v in CONTROL_OPS.items()]}
        return super().change_view(request, object_id, form_url, extra_context)

    def control_view(self, request, market_id):
        """POST op=halt|resume|cancel_only|cancel_all, reason=... (403 without the role)."""
        require_perm(request, "exchange.market_control")
        market = get_object_or_404(Market, pk=market_id)
        back = HttpResponseRedirect(reverse("admin:marketdata_market_change", args=[market.pk]))
        if request.method != "POST":
            return back
        form = ControlForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, "; ".join(errors))
            return back
        market_control_apply(request, market, op=form.cleaned_data["op"],
                             reason=form.cleaned_data["reason"])
        return back


@admin.register(Trade)
class TradeAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "market", "price", "quantity", "quote_quantity", "taker_side",
                    "buyer", "seller", "created_at")
    list_filter = ("market",)
    search_fields = ("=id", "buyer__email", "seller__email")
    list_select_related = ("market", "buyer", "seller")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Candle)
class CandleAdmin(ReadOnlyModelAdmin):
    list_display = ("market", "open_time", "open", "high", "low", "close", "volume",
                    "trade_count")
    list_filter = ("market",)
    date_hierarchy = "open_time"
    show_full_result_count = False
