from django.urls import path

from ranking.api import beacon, views

urlpatterns = [
    path("views/", beacon.ViewBeaconApi.as_view(), name="api-view-beacon"),
    path("rankings/", views.BoardListApi.as_view(), name="api-board-list"),
    path("rankings/<slug:slug>/", views.BoardTopApi.as_view(), name="api-board-top"),
    path("rankings/<slug:slug>/members/<str:member>/", views.BoardMemberApi.as_view(), name="api-board-member"),
]
