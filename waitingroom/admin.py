"""Admin for waiting rooms: live numbers and the knobs staff turn during an event."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from config.admin import RateLimitFieldsAdmin, apply_each
from waitingroom import selectors
from waitingroom.models import WaitingRoom
from waitingroom.services.rooms import room_close, room_pause, room_publish, room_resume


@admin.register(WaitingRoom)
class WaitingRoomAdmin(RateLimitFieldsAdmin):
    list_display = (
        "title",
        "status",
        "campaign",
        "admit_rate",
        "max_active",
        "queued",
        "active",
        "admitted",
        "opens_at",
    )
    list_editable = ("admit_rate", "max_active")
    list_filter = ("status",)
    search_fields = ("slug", "title")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("status", "closed_reason", "retired_at", "live", "created_at", "updated_at")
    actions = ["pause", "resume", "close"]

    def _stats(self, obj):
        """Live numbers, read once per row object (each request builds its own objects)."""
        if not hasattr(obj, "_live_stats"):
            try:
                obj._live_stats = selectors.room_stats(room=obj)
            except Exception:  # noqa: BLE001 - the admin still shows the row when Redis is down
                obj._live_stats = None
        return obj._live_stats

    @admin.display(description=_("queued"))
    def queued(self, obj):
        stats = self._stats(obj)
        return stats.queued if stats else "?"

    @admin.display(description=_("active"))
    def active(self, obj):
        stats = self._stats(obj)
        return stats.active if stats else "?"

    @admin.display(description=_("admitted"))
    def admitted(self, obj):
        stats = self._stats(obj)
        return stats.admitted if stats else "?"

    @admin.display(description=_("live"))
    def live(self, obj):
        stats = self._stats(obj) if obj.pk else None
        if stats is None:
            return "-"
        line = _(
            "state %(state)s · queued %(queued)d · active %(active)d · admitted %(admitted)d · "
            "observed rate %(rate).1f/s"
        ) % {
            "state": WaitingRoom.Status(stats.state).label if stats.state in WaitingRoom.Status.values else stats.state,
            "queued": stats.queued,
            "active": stats.active,
            "admitted": stats.admitted,
            "rate": stats.rate_ema,
        }
        return line + (_(" · throttled (back-pressure)") if stats.throttled else "")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        room_publish(room=obj)  # new rate and max_active apply from the next tick, rate limits at once

    @admin.action(description=_("Pause admission"), permissions=["change"])
    def pause(self, request, queryset):
        apply_each(self, request, queryset, lambda r: room_pause(room=r), _("Paused"))

    @admin.action(description=_("Resume admission (also reopens a room staff closed)"), permissions=["change"])
    def resume(self, request, queryset):
        apply_each(self, request, queryset, lambda r: room_resume(room=r), _("Resumed"))

    @admin.action(description=_("Close the room (passes stop working until it reopens)"), permissions=["change"])
    def close(self, request, queryset):
        apply_each(self, request, queryset, lambda r: room_close(room=r, reason="staff"), _("Closed"))
