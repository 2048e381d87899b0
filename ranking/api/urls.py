from django.urls import path

from ranking.api import views

urlpatterns = [
    path("rankings/", views.BoardListApi.as_view(), name="api-board-list"),
    path("rankings/<slug:slug>/", views.BoardTopApi.as_view(), name="api-board-top"),
    path("rankings/<slug:slug>/members/<str:member>/", views.BoardMemberApi.as_view(), name="api-board-member"),
]
