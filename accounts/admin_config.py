from django.contrib.admin import apps as admin_apps


class BourseAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` whose default site demands a verified second factor, so
    ``admin.site.register`` in every app's admin.py lands on the 2FA-only site."""

    default_site = "accounts.admin_site.BourseAdminSite"
