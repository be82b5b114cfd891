from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from exchange.health import readiness


def healthz(request):
    """The process is alive (no dependency is consulted)."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Every dependency answers; 503 naming what is down otherwise."""
    results = readiness()
    down = {name: why for name, why in results.items() if why != "up"}
    status = 503 if down else 200
    return JsonResponse({"status": "down" if down else "ok", "checks": results}, status=status)


def metrics(request):
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def home(request):
    return render(request, "home.html")
