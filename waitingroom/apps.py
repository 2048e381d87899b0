from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class WaitingroomConfig(AppConfig):
    name = "waitingroom"
    verbose_name = _("Waiting room")

    def ready(self) -> None:
        from waitingroom.models import WaitingRoom
        from waitingroom.selectors import rooms_forget

        post_save.connect(rooms_forget, sender=WaitingRoom, dispatch_uid="waitingroom-rooms-forget-save")
        post_delete.connect(rooms_forget, sender=WaitingRoom, dispatch_uid="waitingroom-rooms-forget-delete")
