from django.urls import path

from config.api.lean import lean_dispatch
from config.shared_pages import shared_page
from coupons.api import lean, seats, views

urlpatterns = [
    path("campaigns/", shared_page(views.CampaignListApi.as_view()), name="api-campaign-list"),
    path("campaigns/<slug:slug>/", shared_page(views.CampaignDetailApi.as_view()), name="api-campaign-detail"),
    path(
        "campaigns/<slug:slug>/claims/",
        lean_dispatch(views.CampaignClaimApi.as_view(), lean.campaign_claim),
        name="api-campaign-claim",
    ),
    path("campaigns/<slug:slug>/seats/", seats.SeatMapApi.as_view(), name="api-seat-map"),
    path("campaigns/<slug:slug>/seats/<str:label>/hold/", seats.SeatHoldApi.as_view(), name="api-seat-hold"),
    path("campaigns/<slug:slug>/seats/<str:label>/confirm/", seats.SeatConfirmApi.as_view(), name="api-seat-confirm"),
    path("campaigns/<slug:slug>/seats/<str:label>/release/", seats.SeatReleaseApi.as_view(), name="api-seat-release"),
    path("grants/", views.GrantListApi.as_view(), name="api-grant-list"),
    path("grants/<uuid:grant_id>/", views.GrantDetailApi.as_view(), name="api-grant-detail"),
    path("wallet/", views.WalletApi.as_view(), name="api-wallet"),
    path("coupons/", views.CouponListApi.as_view(), name="api-coupon-list"),
    path("coupons/<str:code>/redeem/", views.CouponRedeemApi.as_view(), name="api-coupon-redeem"),
]
