from django.urls import path

from config.api.lean import lean_dispatch
from waitingroom.api import lean, views

urlpatterns = [
    path("rooms/<slug:slug>/join/", views.RoomJoinApi.as_view(), name="api-room-join"),
    path(
        "rooms/<slug:slug>/status/",
        lean_dispatch(views.RoomStatusApi.as_view(), lean.room_status_poll),
        name="api-room-status",
    ),
    path("rooms/<slug:slug>/line/", views.RoomLineApi.as_view(), name="api-room-line"),
    path("rooms/<slug:slug>/leave/", views.RoomLeaveApi.as_view(), name="api-room-leave"),
    path("rooms/<slug:slug>/stats/", views.RoomStatsApi.as_view(), name="api-room-stats"),
]
