"""Users, KYC review queue, security events and API keys in the back office.

Staff change nothing here by hand: freezing, unfreezing and KYC decisions are forms that
call ``exchange.backoffice.services`` (which call the accounts services and write the
staff audit log). Only a superuser edits staff access (is_staff, groups), and that is
audited too."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from accounts.models import ApiKey, KycDocument, KycSubmission, SecurityEvent, User
from exchange.api import ServiceError
from exchange.backoffice import selectors, services
from exchange.backoffice.admin_base import ReadOnlyModelAdmin, require_perm


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=500,
                             strip=True)


def _run_staff_action(request, call, *, success: str) -> bool:
    try:
        call()
    except ServiceError as exc:
        messages.error(request, f"{exc.message} ({exc.code})")
        return False
    messages.success(request, success)
    return True


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("id", "email", "state", "kyc_tier", "email_verified", "is_staff",
                    "date_joined", "last_login")
    list_filter = ("state", "kyc_tier", "is_staff", "email_verified")
    search_fields = ("email",)
    search_help_text = "Email (part of it) or user id"
    ordering = ("-id",)
    change_form_template = "admin/accounts/user/change_form.html"
    # Money, KYC and account state change only through services; superusers edit access.
    fields = ("email", "state", "frozen_reason", "kyc_tier", "email_verified", "is_active",
              "is_staff", "is_superuser", "groups", "date_joined", "last_login")
    filter_horizontal = ("groups",)
    ACCESS_FIELDS = ("is_staff", "is_superuser", "groups", "is_active")

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(
            request, queryset, search_term)
        term = search_term.strip().lstrip("#")
        if term.isdigit():
            queryset |= self.model.objects.filter(pk=int(term))
        return queryset, may_have_duplicates

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return [f for f in self.fields if f not in self.ACCESS_FIELDS]
        return list(self.fields)

    def has_add_permission(self, request):
        return False  # users sign up; staff accounts are promoted by a superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.staff_user_access_save(staff_user=request.user, user=obj, form=form,
                                        request=request)

    def save_related(self, request, form, formsets, change):
        pass  # staff_user_access_save saved the groups with the audit entry

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:user_id>/freeze/", wrap(self.freeze_view), name="accounts_user_freeze"),
            path("<int:user_id>/unfreeze/", wrap(self.unfreeze_view),
                 name="accounts_user_unfreeze"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        user = self.get_object(request, object_id)
        if user is not None and request.user.has_perm("exchange.user_overview"):
            extra_context["overview"] = selectors.user_overview(user=user)
        extra_context["can_freeze"] = request.user.has_perm("exchange.user_freeze")
        extra_context["can_see_kyc"] = request.user.has_perm("accounts.view_kycsubmission")
        return super().change_view(request, object_id, form_url, extra_context)

    def _reason_view(self, request, user_id, *, action: str):
        require_perm(request, "exchange.user_freeze")
        user = get_object_or_404(User, pk=user_id)
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            service = (services.staff_user_freeze if action == "freeze"
                       else services.staff_user_unfreeze)
            ok = _run_staff_action(
                request,
                lambda: service(staff_user=request.user, user=user,
                                reason=form.cleaned_data["reason"], request=request),
                success=f"{user.email}: {action} done.",
            )
            if ok:
                return HttpResponseRedirect(
                    reverse("admin:accounts_user_change", args=[user.pk]))
        context = {**self.admin_site.each_context(request), "title": f"{action.title()} {user}",
                   "form": form, "target": user, "action": action, "opts": self.model._meta}
        return TemplateResponse(request, "admin/backoffice/reason_form.html", context)

    def freeze_view(self, request, user_id):
        return self._reason_view(request, user_id, action="freeze")

    def unfreeze_view(self, request, user_id):
        return self._reason_view(request, user_id, action="unfreeze")


class KycPendingFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return KycSubmission.Status.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=self.value())
        return queryset


@admin.register(KycSubmission)
class KycSubmissionAdmin(ReadOnlyModelAdmin):
    """The KYC review queue: pending first, oldest first within pending."""

    list_display = ("id", "user_link", "tier", "status", "age", "reviewed_by", "reviewed_at")
    list_filter = (KycPendingFilter, "tier")
    search_fields = ("user__email", "legal_name")
    list_select_related = ("user", "reviewed_by")
    change_form_template = "admin/accounts/kycsubmission/change_form.html"

    def get_queryset(self, request):
        qs = self.model._default_manager.get_queryset().annotate(
            queue_rank=Case(When(status=KycSubmission.Status.PENDING, then=Value(0)),
                            default=Value(1), output_field=IntegerField()),
        )
        # Annotate before ordering by the annotation (ModelAdmin orders in get_queryset).
        return qs.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ("queue_rank", "created", "id")

    @admin.display(description="user", ordering="user__email")
    def user_link(self, obj):
        url = reverse("admin:accounts_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.email)

    @admin.display(description="age", ordering="created")
    def age(self, obj):
        return timesince(obj.created, timezone.now())

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:submission_id>/decide/", wrap(self.decide_view),
                 name="accounts_kycsubmission_decide"),
            path("<int:submission_id>/document/<int:document_id>/", wrap(self.document_view),
                 name="accounts_kycsubmission_document"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        submission = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if submission is not None:
            extra_context.update(
                documents=list(submission.documents.all()),
                history=list(KycSubmission.objects.filter(user_id=submission.user_id)
                             .select_related("reviewed_by").order_by("-created")),
                can_view_documents=request.user.has_perm("exchange.kyc_document_view"),
                can_decide=(request.user.has_perm("exchange.kyc_decide")
                            and submission.status == KycSubmission.Status.PENDING),
                reason_form=ReasonForm(),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, submission_id):
        require_perm(request, "exchange.kyc_decide")
        submission = get_object_or_404(KycSubmission, pk=submission_id)
        if request.method != "POST":
            return HttpResponseRedirect(
                reverse("admin:accounts_kycsubmission_change", args=[submission.pk]))
        form = ReasonForm(request.POST)
        decision = request.POST.get("decision")
        if not form.is_valid() or decision not in ("approve", "reject"):
            messages.error(request, "A decision and a reason are required.")
        else:
            service = (services.staff_kyc_approve if decision == "approve"
                       else services.staff_kyc_reject)
            _run_staff_action(
                request,
                lambda: service(staff_user=request.user, submission=submission,
                                reason=form.cleaned_data["reason"], request=request),
                success=f"KYC submission {submission.pk}: {decision}d.",
            )
        return HttpResponseRedirect(
            reverse("admin:accounts_kycsubmission_change", args=[submission.pk]))

    def document_view(self, request, submission_id, document_id):
        """Serves a KYC document (inline, never cached) to compliance only."""
        require_perm(request, "exchange.kyc_document_view")
        document = get_object_or_404(KycDocument, pk=document_id, submission_id=submission_id)
        try:
            handle = document.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404("document file missing") from exc
        response = FileResponse(handle, content_type=document.content_type)
        response["Content-Disposition"] = "inline"
        response["Cache-Control"] = "no-store, private"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'"
        return response


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyModelAdmin):
    list_display = ("created", "kind", "user", "ip", "user_agent")
    list_filter = ("kind",)
    search_fields = ("user__email", "ip")
    list_select_related = ("user",)
    date_hierarchy = "created"


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyModelAdmin):
    """Keys without their secrets: the encrypted secret is never shown."""

    list_display = ("id", "user", "name", "key_prefix", "scopes", "created", "last_used_at",
                    "revoked_at")
    search_fields = ("user__email", "name", "key")
    list_select_related = ("user",)
    exclude = ("secret_encrypted",)

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f != "secret_encrypted"]

    @admin.display(description="key")
    def key_prefix(self, obj):
        return f"{obj.key[:8]}…"
