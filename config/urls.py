"""URL root: pages, admin, health probes and the versioned API."""

from django.contrib import admin
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from config import views

api_v1 = [
    path("", include("coupons.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("waitingroom.api.urls")),
    path("", include("ranking.api.urls")),
    path("", include("partners.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own: no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

# The API comes first: its requests (the claim above all) are the ones a spike
# brings, and every pattern tried before theirs costs each of them time.
urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("", include("coupons.urls")),
    path("", include("waitingroom.urls")),
    path("", include("partners.urls")),
    path("", include("ranking.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    # the staff dashboard (admin/dashboard/, before the admin's catch-all patterns) and /metrics
    path("", include("operations.urls")),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the switcher's POST
    # The pages' JavaScript strings in the reader's language (from the cookie); the URL
    # carries the language (?v=ko) so the browser's cache never serves the other one,
    # and "private" keeps shared caches from storing one language for everybody.
    path("jsi18n/", cache_control(private=True, max_age=3600)(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    path("admin/", admin.site.urls),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
