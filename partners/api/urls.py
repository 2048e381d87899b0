from django.urls import path

from partners.api import rooms, views

urlpatterns = [
    path("partner/campaigns/", views.PartnerCampaignListApi.as_view(), name="api-partner-campaign-list"),
    path(
        "partner/campaigns/<slug:slug>/",
        views.PartnerCampaignDetailApi.as_view(),
        name="api-partner-campaign-detail",
    ),
    path(
        "partner/campaigns/<slug:slug>/publish/",
        views.PartnerCampaignPublishApi.as_view(),
        name="api-partner-campaign-publish",
    ),
    path(
        "partner/campaigns/<slug:slug>/close/",
        views.PartnerCampaignCloseApi.as_view(),
        name="api-partner-campaign-close",
    ),
    path(
        "partner/campaigns/<slug:slug>/cancel/",
        views.PartnerCampaignCancelApi.as_view(),
        name="api-partner-campaign-cancel",
    ),
    path(
        "partner/campaigns/<slug:slug>/claims/",
        views.PartnerClaimApi.as_view(),
        name="api-partner-claim",
    ),
    path("partner/campaigns/<slug:slug>/room/", rooms.PartnerRoomApi.as_view(), name="api-partner-room"),
    path("partner/grants/<uuid:grant_id>/", views.PartnerGrantDetailApi.as_view(), name="api-partner-grant-detail"),
]
