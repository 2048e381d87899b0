"""Leaderboards defined in the database, and snapshots of them that survive Redis."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Board(models.Model):
    class Metric(models.TextChoices):
        CLAIMS = "claims", _("Claims (hottest campaigns)")
        SELL_OUT_SECONDS = "sell_out_seconds", _("Seconds from opening to sold out (fastest sell-outs)")
        USERS_SERVED = "users_served", _("Users served (succeeded grants)")
        VIEWS = "views", _("Page views (sampled beacon of the drop page, estimated)")

    class Direction(models.TextChoices):
        DESC = "desc", _("Higher is better")
        ASC = "asc", _("Lower is better")

    class TieStyle(models.TextChoices):
        COMPETITION = "competition", _("Competition (1, 2, 2, 4)")
        DENSE = "dense", _("Dense (1, 2, 2, 3)")

    slug = models.SlugField(max_length=60, unique=True, verbose_name=_("slug"))
    title = models.CharField(max_length=120, verbose_name=_("title"))
    metric = models.CharField(max_length=20, choices=Metric.choices, verbose_name=_("metric"))
    direction = models.CharField(
        max_length=4, choices=Direction.choices, default=Direction.DESC, verbose_name=_("direction")
    )
    tie_style = models.CharField(
        max_length=12, choices=TieStyle.choices, default=TieStyle.COMPETITION, verbose_name=_("tie style")
    )
    rolling_24h = models.BooleanField(
        default=False,
        help_text=_("A rolling last 24 hours: hourly buckets merged on read."),
        verbose_name=_("last 24 hours"),
    )
    daily = models.BooleanField(default=True, verbose_name=_("daily"))
    weekly = models.BooleanField(default=True, verbose_name=_("weekly"))
    all_time = models.BooleanField(default=True, verbose_name=_("all time"))
    visible = models.BooleanField(
        default=True, help_text=_("Shown on the rankings page and in the public API."), verbose_name=_("visible")
    )
    snapshot_size = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Entries each snapshot keeps."),
        verbose_name=_("snapshot size"),
    )
    position = models.PositiveIntegerField(
        default=0, help_text=_("Order on the rankings page."), verbose_name=_("position")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("board")
        verbose_name_plural = _("boards")
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(snapshot_size__gte=1, snapshot_size__lte=100), name="board_snapshot_size_range"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def descending(self) -> bool:
        return self.direction == self.Direction.DESC

    def periods(self) -> list[str]:
        """The period kinds this board keeps: "24h", "d", "w", "all"."""
        kinds = (("24h", self.rolling_24h), ("d", self.daily), ("w", self.weekly), ("all", self.all_time))
        return [p for p, on in kinds if on]


class BoardSnapshot(models.Model):
    """A board's top entries for one period at one moment; history survives Redis."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("board"))
    period_key = models.CharField(
        max_length=20, help_text=_('"d:20261122", "w:2026-W47", "24h" or "all"'), verbose_name=_("period key")
    )
    taken_at = models.DateTimeField(db_index=True, verbose_name=_("taken at"))
    entries = models.JSONField(help_text=_("[{rank, member, label, value}] in board order"), verbose_name=_("entries"))

    class Meta:
        verbose_name = _("board snapshot")
        verbose_name_plural = _("board snapshots")
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["board", "period_key", "taken_at"], name="snapshot_board_period")]

    def __str__(self) -> str:
        return f"{self.board.slug} {self.period_key} @ {self.taken_at:%Y-%m-%d %H:%M}"
