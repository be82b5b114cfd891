"""Per-IP request weight on every API response (``X-MBX-USED-WEIGHT-1M``), 429 with
``Retry-After`` when the IP is over its limit."""

from django.conf import settings
from django.http import JsonResponse

from accounts.netutils import client_ip
from accounts.ratelimit import weight_add

USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"


class ApiWeightMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        response = self.get_response(request)
        if not hasattr(request, "api_used_weight"):  # no view matched: count 1
            request.api_used_weight, _ = weight_add(f"ip:{client_ip(request)}", 1)
        response[USED_WEIGHT_HEADER] = str(request.api_used_weight)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.path.startswith("/api/"):
            return None
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        weight = int(getattr(view_class or view_func, "rate_limit_weight", 1))
        used, reset_in = weight_add(f"ip:{client_ip(request)}", weight)
        request.api_used_weight = used
        if used <= settings.API_RATE_LIMITS["IP_WEIGHT_PER_MINUTE"]:
            return None
        message = f"Too much request weight used; retry in {reset_in} s."
        if request.path.startswith("/api/v3/"):
            body = {"code": -1003, "msg": message}
        else:
            body = {"code": "rate_limited", "message": message, "fields": {}}
        response = JsonResponse(body, status=429)
        response["Retry-After"] = str(reset_in)
        return response
