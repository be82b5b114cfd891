"""Per-IP request weight on every API response (``X-MBX-USED-WEIGHT-1M``), 429 with
``Retry-After`` when the IP is over its limit."""

from django.conf import settings
from django.http import JsonResponse

from accounts.apikey_cache import GENERATION_KEY
from accounts.authentication import API_KEY_HEADER, KEY_FORMAT
from accounts.netutils import client_ip
from accounts.ratelimit import key_bucket, weight_add, weights_add

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
        buckets = [(f"ip:{client_ip(request)}", weight)]
        api_key = request.META.get(API_KEY_HEADER)
        if api_key is not None and KEY_FORMAT.match(api_key):
            # A signed request: its key's weight and the API-key cache generation come in
            # the same Redis round trip (the throttle and the authentication use them).
            # The key's weight is counted before authentication: weight sent with an
            # invalid key counts against that (non-existent) key's bucket only.
            buckets.append((key_bucket(api_key), weight))
            (used, key_used), reset_in, generation = weights_add(buckets, read=GENERATION_KEY)
            request.api_key_weight_counted = (api_key, key_used, reset_in)
            request.api_key_generation = generation or b"0"
        else:
            (used,), reset_in, _ = weights_add(buckets)
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
