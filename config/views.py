"""Project-level views: health probes and error pages."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import health


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving; touches no store."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when PostgreSQL, Redis and the broker each answer; 503 names what failed."""
    checks = health.readiness()
    failed = [name for name, result in checks.items() if not result["ok"]]
    body = {
        "status": "ok" if not failed else "unavailable",
        "checks": checks,
        "beat_heartbeat_age_s": health.heartbeat_age(),
    }
    if failed:
        body["code"] = "not_ready"
        body["detail"] = "Unavailable: " + ", ".join(failed)
    return JsonResponse(body, status=503 if failed else 200)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "server_error", "detail": "Internal server error."}, status=500)
    # Plain render without context processors: the failure may be in them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "bad_request", "detail": "Bad request."}, status=400)
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "permission_denied", "detail": "Permission denied."}, status=403)
    return render(request, "403.html", status=403)
