"""The rankings page: the boards that keep the chosen period, each value with its unit, and a chart of
the period over time from snapshots where one says something (ranking/charts.py)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ranking import charts, feed, selectors, services, units


def rankings(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("period", "24h")
    if kind not in selectors.PERIOD_KINDS:
        kind = "24h"
    boards = []
    for board in selectors.board_list_visible():
        if kind not in board.periods():
            continue  # each board shows only periods it keeps, so two boards never show one number twice
        key = selectors.period_key_for(board=board, kind=kind)
        ranked = services.board_top(board=board, key=key, limit=10)
        labels = feed.labels_for([r.member for r in ranked])
        entries = [
            {"rank": r.rank, "label": labels.get(r.member, r.member), "text": units.value_text(board, r.value)}
            for r in ranked
        ]
        chart = None
        if charts.worth_charting(board, kind):
            chart = charts.chart(board=board, series=selectors.chart_series(board=board, key=key))
        boards.append(
            {"board": board, "meaning": units.MEANINGS.get(board.metric, ""), "entries": entries, "chart": chart}
        )
    periods = [(k, selectors.PERIOD_TITLES[k]) for k in selectors.PERIOD_KINDS]
    context = {
        "boards": boards,
        "period": kind,
        "period_title": selectors.PERIOD_TITLES[kind],
        "periods": periods,
        "width": charts.WIDTH,
        "height": charts.HEIGHT,
    }
    return render(request, "ranking/rankings.html", context)
