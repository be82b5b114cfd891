"""Back-office pages that belong to no single model (wrapped by ``admin_view``: staff,
verified by OTP). Each checks its own permission and answers 403 without it."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from exchange.api import ServiceError
from exchange.backoffice import exports, selectors
from exchange.backoffice.services import staff_action_record


def dashboard(request):
    if not request.user.has_perm("exchange.dashboard_view"):
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        **selectors.dashboard_summary(),
    }
    return TemplateResponse(request, "admin/backoffice/dashboard.html", context)


class StaffExportForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, k.title()) for k in exports.KINDS])
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    user_id = forms.IntegerField(required=False, help_text="Only this user (optional).")


def staff_export(request):
    if not request.user.has_perm("exchange.export_staff"):
        raise PermissionDenied
    form = StaffExportForm(request.GET or None)
    error = None
    if form.is_valid():
        from accounts.models import User

        data = form.cleaned_data
        user = None
        if data["user_id"]:
            user = User.objects.filter(pk=data["user_id"]).first()
            if user is None:
                form.add_error("user_id", "No such user.")
        if form.is_valid():
            try:
                since, until = exports.date_range_parse(
                    start=data["start"].isoformat(), end=data["end"].isoformat())
                response = exports.export_response(kind=data["kind"], since=since,
                                                   until=until, user=user)
            except ServiceError as exc:
                error = exc.message
            else:
                staff_action_record(
                    staff_user=request.user, action=f"export.{data['kind']}",
                    obj=user, object_type="export",
                    after={"start": data["start"].isoformat(), "end": data["end"].isoformat(),
                           "user_id": data["user_id"]},
                    request=request,
                )
                return response
    context = {**admin.site.each_context(request), "title": "Export CSV", "form": form,
               "error": error}
    return TemplateResponse(request, "admin/backoffice/export.html", context)
