from django.urls import path

from coupons import views

urlpatterns = [
    path("", views.campaign_list, name="home"),
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<slug:slug>/claim/", views.campaign_claim, name="campaign-claim"),
    path("me/", views.my_grants, name="my-grants"),
    path("me/state/", views.me_state, name="me-state"),
]
