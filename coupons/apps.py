from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("Coupons")

    def ready(self) -> None:
        from coupons.selectors import campaign_stock_for_room
        from waitingroom.stock import stock_provider_register

        # The waiting room caps admission by what its campaign can still give (W6).
        stock_provider_register(campaign_stock_for_room)
