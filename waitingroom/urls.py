from django.urls import path

from waitingroom import views

urlpatterns = [
    path("rooms/<slug:slug>/", views.room_detail, name="room-detail"),
    path("rooms/<slug:slug>/join/", views.room_join, name="room-join"),
    path("rooms/<slug:slug>/leave/", views.room_leave, name="room-leave"),
]
