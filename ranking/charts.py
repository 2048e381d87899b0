"""Charts of a board over time, drawn as inline SVG on the server (no chart library, nothing from a CDN):
lines from the snapshots of one period, with labelled axes in the site's time zone and the board's unit."""

from datetime import datetime

from django.utils import timezone

from ranking import units
from ranking.models import Board

WIDTH, HEIGHT = 400, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 24, 40  # room for the value labels and the time labels
COLORS = ("#d93a40", "#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f")
MAX_LINES = 8


def worth_charting(board: Board, kind: str) -> bool:
    """A chart says something when the value moves over the period: counts in the last 24 hours, a day or
    a week. An all-time count only grows and a sell-out time never changes once set: no chart."""
    return kind != "all" and board.metric != Board.Metric.SELL_OUT_SECONDS


def _nice_top(value: int) -> int:
    """The axis's top: the smallest 1, 2, 2.5 or 5 × 10^k at or above the largest value."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value and float(step * magnitude).is_integer():
            return int(step * magnitude)
    return magnitude * 10


def _time_label(moment: datetime, span_seconds: float) -> str:
    local = timezone.localtime(moment)
    return f"{local:%m-%d %H:%M}" if span_seconds > 86_400 else f"{local:%H:%M}"


def chart(*, board: Board, series: dict) -> dict | None:
    """Everything the template draws: lines, axis ticks and titles; None with fewer than two points."""
    times: list[datetime] = series["times"]
    if len(times) < 2:
        return None
    start, end = times[0], times[-1]
    span = max(1.0, (end - start).total_seconds())
    latest = {
        member: next((v for v in reversed(data["values"]) if v is not None), 0)
        for member, data in series["series"].items()
    }
    members = sorted(series["series"], key=lambda m: -latest[m])[:MAX_LINES]
    top = _nice_top(max((v for m in members for v in series["series"][m]["values"] if v is not None), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return LEFT + plot_w * (moment - start).total_seconds() / span

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    lines = []
    for color, member in zip(COLORS, members, strict=False):
        data = series["series"][member]
        points = " ".join(
            f"{x(moment):.1f},{y(value):.1f}"
            for moment, value in zip(times, data["values"], strict=True)
            if value is not None
        )
        lines.append({"member": member, "label": data["label"], "color": color, "points": points})
    y_ticks = [{"y": f"{y(v):.1f}", "label": f"{v:,}"} for v in (0, top // 2 if top % 2 == 0 else top / 2, top)]
    for tick in y_ticks:
        tick["label"] = tick["label"].removesuffix(".0")
    middle = start + (end - start) / 2
    x_ticks = [
        {"x": f"{x(moment):.1f}", "label": _time_label(moment, span), "anchor": anchor}
        for moment, anchor in ((start, "start"), (middle, "middle"), (end, "end"))
    ]
    return {
        "lines": lines,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "y_title": units.AXIS_TITLES.get(board.metric, ""),
        "zone": timezone.localtime(end).strftime("%Z"),
        "first": start,
        "last": end,
        "max": top,
        "plot": {
            "left": LEFT,
            "right": WIDTH - RIGHT,
            "top": TOP,
            "bottom": HEIGHT - BOTTOM,
        },
    }
