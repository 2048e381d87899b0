"""Admin for boards (editable, with a rebuild action) and snapshots (read-only)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from ranking import redis as rank_redis
from ranking import services
from ranking.models import Board, BoardSnapshot


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "slug",
        "metric",
        "direction",
        "tie_style",
        "rolling_24h",
        "daily",
        "weekly",
        "all_time",
        "visible",
    )
    list_editable = ("visible",)
    prepopulated_fields = {"slug": ("title",)}
    actions = ["rebuild"]

    def save_model(self, request, obj, form, change):
        old = Board.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        services.boards_forget()
        if old is not None and (old.slug, old.metric, old.direction) != (obj.slug, obj.metric, obj.direction):
            # scores packed under the old definition mean nothing now: start over from the database
            rank_redis.keys_delete(board_slug=old.slug)
            services.board_rebuild(board=obj)

    @admin.action(description=_("Rebuild from the database"), permissions=["change"])
    def rebuild(self, request, queryset):
        for board in queryset:
            report = services.board_rebuild(board=board)
            level = messages.WARNING if report.differences else messages.SUCCESS
            self.message_user(
                request,
                _("%(slug)s: %(keys)d key(s) rebuilt, %(differed)d differed")
                % {"slug": board.slug, "keys": report.keys, "differed": len(report.differences)},
                level,
            )


@admin.register(BoardSnapshot)
class BoardSnapshotAdmin(admin.ModelAdmin):
    list_display = ("board", "period_key", "taken_at")
    list_filter = ("board",)
    date_hierarchy = "taken_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
