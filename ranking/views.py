"""The rankings page: each board's top 10 for a period, and a chart of it over time from snapshots."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.errors import ApplicationError
from ranking import feed, selectors, services

CHART_WIDTH, CHART_HEIGHT = 600, 180
COLORS = ("#d93a40", "#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f")


def _chart(series: dict) -> dict | None:
    """Polylines (SVG coordinates) for up to eight members, drawn server-side: no chart library, no CDN."""
    count = len(series["times"])
    if count < 2:
        return None
    top = max((v for s in series["series"].values() for v in s["values"] if v is not None), default=0) or 1
    lines = []
    for color, (member, data) in zip(COLORS, list(series["series"].items())[:8], strict=False):
        points = [
            f"{CHART_WIDTH * i / (count - 1):.1f},{CHART_HEIGHT - CHART_HEIGHT * v / top:.1f}"
            for i, v in enumerate(data["values"])
            if v is not None
        ]
        lines.append({"member": member, "label": data["label"], "color": color, "points": " ".join(points)})
    return {"lines": lines, "max": top, "first": series["times"][0], "last": series["times"][-1]}


def rankings(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("period", "d")
    if kind not in selectors.PERIOD_KINDS:
        kind = "d"
    boards = []
    for board in selectors.board_list_visible():
        try:
            key = selectors.period_key_for(board=board, kind=kind)
        except ApplicationError:
            key = selectors.period_key_for(board=board, kind=board.periods()[-1]) if board.periods() else None
        ranked = services.board_top(board=board, key=key, limit=10) if key else []
        labels = feed.labels_for([r.member for r in ranked])
        entries = [{"rank": r.rank, "label": labels.get(r.member, r.member), "value": r.value} for r in ranked]
        chart = _chart(selectors.chart_series(board=board, kind="all"))
        boards.append({"board": board, "key": key, "entries": entries, "chart": chart})
    context = {"boards": boards, "period": kind, "width": CHART_WIDTH, "height": CHART_HEIGHT}
    return render(request, "ranking/rankings.html", context)
