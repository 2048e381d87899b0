from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("Coupons")

    def ready(self) -> None:
        from coupons.providers import RoomCampaigns
        from coupons.services.rankings import CampaignRankingSource
        from ranking.feed import source_register
        from waitingroom.protected import provider_register

        provider_register(RoomCampaigns())
        source_register(CampaignRankingSource())
