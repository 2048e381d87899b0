from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/token/", views.TokenCreateApi.as_view(), name="api-token-create"),
    path("auth/token/revoke/", views.TokenRevokeApi.as_view(), name="api-token-revoke"),
    path("me/", views.MeApi.as_view(), name="api-me"),
]
