"""The staff dashboard (under /admin/dashboard/, before the admin's catch-all patterns) and /metrics."""

from django.urls import include, path

from operations import dashboard, views

dashboard_patterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("campaigns/<int:campaign_id>/live/", dashboard.campaign_live, name="dashboard-live"),
    path("campaigns/<int:campaign_id>/<slug:action>/", dashboard.campaign_action, name="dashboard-campaign-action"),
    path("rooms/<int:room_id>/<slug:action>/", dashboard.room_action, name="dashboard-room-action"),
]

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("admin/dashboard/", include(dashboard_patterns)),
]
