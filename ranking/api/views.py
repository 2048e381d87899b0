"""Boards, a board's top N for a period, a member's standing."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ranking import feed, selectors, services, units
from ranking.errors import BadPeriod, BoardNotFound

MAX_OFFSET = 10_000
PERIOD_PARAMS = [
    OpenApiParameter(
        "period",
        str,
        enum=["24h", "d", "w", "all"],
        description="the last 24 hours (24 hour buckets, docs/ranking.md), the day, the ISO week, or all time "
        "(default all); only periods the board keeps (BoardOutput.periods)",
    ),
    OpenApiParameter(
        "date", str, description="a local date YYYY-MM-DD inside the period (default today; not with 24h)"
    ),
]


class BoardOutputSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    metric = serializers.CharField()
    direction = serializers.CharField()
    tie_style = serializers.CharField()
    periods = serializers.ListField(child=serializers.CharField(), source="periods_list")
    unit = serializers.ChoiceField(
        choices=sorted(set(units.UNITS.values())),
        help_text="what every value of the board counts: claims, seconds (from opening to sold out), "
        "people (served) or views (estimated from a sampled beacon)",
    )


class EntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    member = serializers.CharField()
    label = serializers.CharField()
    value = serializers.IntegerField(help_text="in the board's unit")
    value_text = serializers.CharField(help_text='the value with its unit, in the language asked for: "12 claims"')


def _entries(board, ranked) -> list[dict]:
    labels = feed.labels_for([r.member for r in ranked])
    return [
        {
            "rank": r.rank,
            "member": r.member,
            "label": labels.get(r.member, r.member),
            "value": r.value,
            "value_text": units.value_text(board, r.value),
        }
        for r in ranked
    ]


class BoardListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: BoardOutputSerializer(many=True)}, summary="Leaderboards")
    def get(self, request: Request) -> Response:
        boards = list(selectors.board_list_visible())
        for board in boards:
            board.periods_list = board.periods()
            board.unit = units.unit_of(board)
        return Response(BoardOutputSerializer(boards, many=True).data)


class BoardTopApi(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        board = serializers.CharField()
        period_key = serializers.CharField()
        unit = serializers.CharField(help_text="as in BoardOutput.unit")
        entries = EntrySerializer(many=True)

    @extend_schema(
        parameters=[
            *PERIOD_PARAMS,
            OpenApiParameter("limit", int, description="1–100, default 10"),
            OpenApiParameter("offset", int, description="default 0"),
        ],
        responses={200: OutputSerializer},
        summary="A board's top entries for a period",
    )
    def get(self, request: Request, slug: str) -> Response:
        board = selectors.board_get(slug=slug)
        key = selectors.period_key_for(
            board=board, kind=request.query_params.get("period", "all"), date=request.query_params.get("date")
        )
        try:
            limit = min(100, max(1, int(request.query_params.get("limit", 10))))
            offset = max(0, int(request.query_params.get("offset", 0)))
        except ValueError as exc:
            raise BadPeriod(_("limit and offset must be whole numbers.")) from exc
        if offset > MAX_OFFSET:
            raise BadPeriod(_("offset is at most %(max)d; ask a member's standing instead.") % {"max": MAX_OFFSET})
        ranked = services.board_top(board=board, key=key, limit=limit, offset=offset)
        return Response(
            self.OutputSerializer(
                {
                    "board": board.slug,
                    "period_key": key,
                    "unit": units.unit_of(board),
                    "entries": _entries(board, ranked),
                }
            ).data
        )


class BoardMemberApi(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        board = serializers.CharField()
        period_key = serializers.CharField()
        unit = serializers.CharField(help_text="as in BoardOutput.unit")
        entry = EntrySerializer()
        around = EntrySerializer(many=True)
        size = serializers.IntegerField()

    @extend_schema(
        parameters=PERIOD_PARAMS, responses={200: OutputSerializer}, summary="A member's rank and neighbours"
    )
    def get(self, request: Request, slug: str, member: str) -> Response:
        board = selectors.board_get(slug=slug)
        key = selectors.period_key_for(
            board=board, kind=request.query_params.get("period", "all"), date=request.query_params.get("date")
        )
        standing = services.member_standing(board=board, key=key, member=member)
        if standing is None:
            raise BoardNotFound(_("This member has no score in that period."))
        around = _entries(board, standing.around)
        entry = next(e for e in around if e["member"] == member)
        body = {
            "board": board.slug,
            "period_key": key,
            "unit": units.unit_of(board),
            "entry": entry,
            "around": around,
            "size": standing.size,
        }
        return Response(self.OutputSerializer(body).data)
