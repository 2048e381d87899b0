from django.urls import path

from waitingroom.api import views

urlpatterns = [
    path("rooms/<slug:slug>/join/", views.RoomJoinApi.as_view(), name="api-room-join"),
    path("rooms/<slug:slug>/status/", views.RoomStatusApi.as_view(), name="api-room-status"),
    path("rooms/<slug:slug>/line/", views.RoomLineApi.as_view(), name="api-room-line"),
    path("rooms/<slug:slug>/leave/", views.RoomLeaveApi.as_view(), name="api-room-leave"),
    path("rooms/<slug:slug>/stats/", views.RoomStatsApi.as_view(), name="api-room-stats"),
]
