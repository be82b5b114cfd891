"""The admin site: staff enter only with a session verified by a second factor."""

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django_otp.admin import OTPAdminSite


class BourseAdminSite(OTPAdminSite):
    site_header = "Bourse back office"
    site_title = "Bourse back office"

    def login(self, request, extra_context=None):
        # One login path for everyone, with its lock-out, audit and 2FA steps.
        target = request.GET.get("next") or "/admin/"
        return HttpResponseRedirect("/accounts/login/?" + urlencode({"next": target}))
