"""The back-office pages that belong to no single model, added to whatever admin site the
project installs (accounts installs a django-otp OTPAdminSite as the default site, so
staff enter only with a verified second factor).

``install`` re-classes ``admin.site`` to a subclass of its own class that adds the
dashboard and export URLs; the registry and the site name stay as they are. If the
installed site does not demand OTP, the subclass adds django-otp's OTPAdminSite so the
back office never opens without a second factor."""

from __future__ import annotations

from django.urls import path
from django_otp.admin import OTPAdminSite


class BackOfficeSiteMixin:
    index_template = "admin/bourse_index.html"

    def get_urls(self):
        from exchange.backoffice import admin_views

        extra = [
            path("dashboard/", self.admin_view(admin_views.dashboard),
                 name="backoffice_dashboard"),
            path("exports/", self.admin_view(admin_views.staff_export),
                 name="backoffice_export"),
        ]
        return extra + super().get_urls()

    def each_context(self, request):
        context = super().each_context(request)
        user = request.user
        context["can_view_dashboard"] = user.has_perm("exchange.dashboard_view")
        context["can_export"] = user.has_perm("exchange.export_staff")
        context["can_adjust"] = user.has_perm("exchange.adjustment_post")
        return context


def install(site) -> None:
    """``site`` is ``admin.site`` (a lazy wrapper) or an AdminSite instance."""
    from django.utils.functional import LazyObject

    if isinstance(site, LazyObject):
        site.name  # noqa: B018 - forces the lazy default site to be built
        site = site._wrapped
    cls = type(site)
    if issubclass(cls, BackOfficeSiteMixin):
        return
    bases = (BackOfficeSiteMixin, cls) if issubclass(cls, OTPAdminSite) else (
        BackOfficeSiteMixin, OTPAdminSite, cls)
    site.__class__ = type("BackOfficeSite", bases, {"__module__": __name__})
