from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("Coupons")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.db.models.signals import post_save

        from coupons import me, published
        from coupons.providers import RoomCampaigns
        from coupons.services.rankings import CampaignRankingSource
        from ranking.feed import source_register
        from waitingroom.protected import provider_register

        provider_register(RoomCampaigns())
        source_register(CampaignRankingSource())
        user_logged_in.connect(me.on_logged_in, dispatch_uid="coupons.me.logged_in")
        user_logged_out.connect(me.on_logged_out, dispatch_uid="coupons.me.logged_out")
        post_save.connect(me.on_grant_saved, sender="coupons.Grant", dispatch_uid="coupons.me.grant_saved")
        published.receivers_connect()
