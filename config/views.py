"""Project-level views: health probes, metrics, the home page and error pages."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import health
from config import metrics as fc_metrics


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


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics for a scraper holding METRICS_TOKEN (Authorization: Bearer), or staff who
    may view campaigns (the dashboard's readers)."""
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    allowed = bool(settings.METRICS_TOKEN) and hmac.compare_digest(token.encode(), settings.METRICS_TOKEN.encode())
    operator = (
        request.user.is_authenticated and request.user.is_staff and request.user.has_perm("coupons.view_campaign")
    )
    if not allowed and not operator:
        if token or request.user.is_authenticated:
            return JsonResponse({"code": "permission_denied", "detail": "Metrics are for operators."}, status=403)
        response = JsonResponse(
            {"code": "not_authenticated", "detail": "Send the metrics token as a bearer token."}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = fc_metrics.exposition()
    return HttpResponse(body, content_type=content_type)


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
