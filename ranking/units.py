"""What a board's numbers count, and each value written with its unit ("12 claims", "1 min 5 s", "약 120회")."""

from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ranking.models import Board

# The unit of each metric, as the API names it (BoardOutput.unit).
UNITS = {
    Board.Metric.CLAIMS: "claims",
    Board.Metric.SELL_OUT_SECONDS: "seconds",
    Board.Metric.USERS_SERVED: "people",
    Board.Metric.VIEWS: "views",
}
# What a chart's vertical axis counts, per metric.
AXIS_TITLES = {
    Board.Metric.CLAIMS: gettext_lazy("claims"),
    Board.Metric.SELL_OUT_SECONDS: gettext_lazy("seconds to sell out"),
    Board.Metric.USERS_SERVED: gettext_lazy("people served"),
    Board.Metric.VIEWS: gettext_lazy("views (estimated)"),
}
# What the board's value is, in one line under its title.
MEANINGS = {
    Board.Metric.CLAIMS: gettext_lazy("Claims accepted"),
    Board.Metric.SELL_OUT_SECONDS: gettext_lazy("Time from opening to sold out; shorter ranks higher"),
    Board.Metric.USERS_SERVED: gettext_lazy("People who got what the drop gave"),
    Board.Metric.VIEWS: gettext_lazy("Page views, estimated from a sample; a visitor counts once a minute"),
}


def unit_of(board: Board) -> str:
    return UNITS.get(board.metric, "")


def duration_text(seconds: int) -> str:
    """A duration in words that fit a row: "45 s", "2 min 5 s", "3 h 20 min"."""
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    if seconds < 3600:
        return _("%(m)d min %(s)d s") % {"m": seconds // 60, "s": seconds % 60}
    return _("%(h)d h %(m)d min") % {"h": seconds // 3600, "m": seconds % 3600 // 60}


def value_text(board: Board, value: int) -> str:
    """The value with its unit, in the active language."""
    number = intcomma(value)
    if board.metric == Board.Metric.SELL_OUT_SECONDS:
        return duration_text(value)
    if board.metric == Board.Metric.CLAIMS:
        return ngettext("%(n)s claim", "%(n)s claims", value) % {"n": number}
    if board.metric == Board.Metric.USERS_SERVED:
        return ngettext("%(n)s person served", "%(n)s people served", value) % {"n": number}
    if board.metric == Board.Metric.VIEWS:
        return ngettext("about %(n)s view", "about %(n)s views", value) % {"n": number}
    return number
