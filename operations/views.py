"""/metrics (Prometheus) for a scraper holding METRICS_TOKEN, or for staff who may read the dashboard."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from operations.metrics import exposition as metrics_exposition


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
    body, content_type = metrics_exposition()
    return HttpResponse(body, content_type=content_type)
