from django.urls import path

from coupons.api import views

urlpatterns = [
    path("campaigns/", views.CampaignListApi.as_view(), name="api-campaign-list"),
    path("campaigns/<slug:slug>/", views.CampaignDetailApi.as_view(), name="api-campaign-detail"),
    path("campaigns/<slug:slug>/claims/", views.CampaignClaimApi.as_view(), name="api-campaign-claim"),
    path("grants/", views.GrantListApi.as_view(), name="api-grant-list"),
    path("grants/<uuid:grant_id>/", views.GrantDetailApi.as_view(), name="api-grant-detail"),
    path("wallet/", views.WalletApi.as_view(), name="api-wallet"),
    path("coupons/", views.CouponListApi.as_view(), name="api-coupon-list"),
    path("coupons/<str:code>/redeem/", views.CouponRedeemApi.as_view(), name="api-coupon-redeem"),
]
