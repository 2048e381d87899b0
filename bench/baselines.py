"""Baselines for the benchmarks: what firstcome is measured against. Never in production URLs.

Only `config.settings.bench` mounts these (bench/urls.py). Every view sits on the
same server, middleware, authentication and renderer as the real claim, so the
figures differ only by what happens inside the view:

- `noop/django/`: a bare Django view (the framework's ceiling);
- `noop/api/`: a DRF view with the claim's authentication, permission and
  renderer that does nothing (the ceiling of the claim's stack);
- `baseline/<approach>/<stock>/`: three classic ways to hand out a limited stock,
  each recording its accepted claims in PostgreSQL like the real claim does:
  `count-insert` counts the rows then inserts (the classic race),
  `locked` takes the stock row `SELECT ... FOR UPDATE` (pessimistic locking),
  `redis-incr` uses `SADD` + `INCR` round trips without Lua.

Their tables are made by `tables_create()` (the bench harness calls it), outside
the app migrations, and have no unique constraints: the approach alone must keep
the count, as in the literature.
"""

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import redis as fc_redis

TABLES = """
CREATE TABLE IF NOT EXISTS bench_stock (
    stock text PRIMARY KEY,
    quantity integer NOT NULL,
    remaining integer NOT NULL
);
CREATE TABLE IF NOT EXISTS bench_claim (
    id bigserial PRIMARY KEY,
    stock text NOT NULL,
    user_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS bench_claim_stock_user ON bench_claim (stock, user_id);
"""


def tables_create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(TABLES)


def stock_create(*, stock: str, quantity: int) -> None:
    """A fresh stock for one baseline run (its claims and Redis counters are dropped)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM bench_claim WHERE stock = %s", [stock])
        cursor.execute(
            "INSERT INTO bench_stock (stock, quantity, remaining) VALUES (%s, %s, %s) "
            "ON CONFLICT (stock) DO UPDATE SET quantity = EXCLUDED.quantity, remaining = EXCLUDED.remaining",
            [stock, quantity, quantity],
        )
    fc_redis.client().delete(*_redis_keys(stock))


def stock_counts(*, stock: str) -> dict:
    """Accepted rows, distinct users among them and the over-issue beyond the quantity."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.quantity, count(c.id), count(DISTINCT c.user_id) "
            "FROM bench_stock s LEFT JOIN bench_claim c ON c.stock = s.stock WHERE s.stock = %s GROUP BY s.quantity",
            [stock],
        )
        quantity, rows, users = cursor.fetchone()
    return {
        "quantity": quantity,
        "accepted_rows": rows,
        "duplicate_rows": rows - users,
        "over_issue": max(0, rows - quantity),
    }


def _redis_keys(stock: str) -> tuple[str, str]:
    return fc_redis.key(f"bench:{stock}:users"), fc_redis.key(f"bench:{stock}:count")


def _accepted() -> Response:
    return Response({"accepted": True}, status=status.HTTP_202_ACCEPTED)


def _duplicate() -> Response:
    return Response({"accepted": True, "duplicate": True}, status=status.HTTP_200_OK)


def _sold_out() -> Response:
    return Response({"code": "sold_out", "detail": "Sold out."}, status=status.HTTP_409_CONFLICT)


@csrf_exempt
def noop_django(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"ok":true}', content_type="application/json")


class NoopApi(APIView):
    """The claim's stack doing nothing: bearer authentication, permission, JSON renderer."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        return Response({"ok": True, "user": request.user.id}, status=status.HTTP_202_ACCEPTED)


_quantities: dict[str, int] = {}


def _quantity(stock: str) -> int:
    """The stock's quantity, read once per process (a stock never changes during its run)."""
    if stock not in _quantities:
        with connection.cursor() as cursor:
            cursor.execute("SELECT quantity FROM bench_stock WHERE stock = %s", [stock])
            _quantities[stock] = cursor.fetchone()[0]
    return _quantities[stock]


class CountThenInsertApi(APIView):
    """Count, check, insert, as a view usually reads: `if Claim.objects.filter(...).count() < n`,
    then `.exists()` for the user, then `.create()`, in the request's transaction
    (ATOMIC_REQUESTS). Two requests that both count n-1 both insert."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, stock: str) -> Response:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM bench_claim WHERE stock = %s", [stock])
            (taken,) = cursor.fetchone()
            if taken >= _quantity(stock):
                return _sold_out()
            cursor.execute("SELECT 1 FROM bench_claim WHERE stock = %s AND user_id = %s", [stock, request.user.id])
            if cursor.fetchone():
                return _duplicate()
            cursor.execute("INSERT INTO bench_claim (stock, user_id) VALUES (%s, %s)", [stock, request.user.id])
        return _accepted()


class LockedStockApi(APIView):
    """Pessimistic locking: every claim queues on the stock row's lock."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, stock: str) -> Response:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT remaining FROM bench_stock WHERE stock = %s FOR UPDATE", [stock])
            (remaining,) = cursor.fetchone()
            cursor.execute("SELECT 1 FROM bench_claim WHERE stock = %s AND user_id = %s", [stock, request.user.id])
            if cursor.fetchone():
                return _duplicate()
            if remaining <= 0:
                return _sold_out()
            cursor.execute("INSERT INTO bench_claim (stock, user_id) VALUES (%s, %s)", [stock, request.user.id])
            cursor.execute("UPDATE bench_stock SET remaining = remaining - 1 WHERE stock = %s", [stock])
        return _accepted()


class RedisIncrApi(APIView):
    """SADD the user, INCR the counter, undo the SADD past the quantity: one round trip each, no script."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, stock: str) -> Response:
        users, count = _redis_keys(stock)
        redis = fc_redis.client()
        if not redis.sadd(users, request.user.id):
            return _duplicate()
        if redis.incr(count) > _quantity(stock):
            redis.srem(users, request.user.id)
            return _sold_out()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_claim (stock, user_id) VALUES (%s, %s)", [stock, request.user.id])
        return _accepted()


urlpatterns = [
    path("noop/django/", noop_django, name="bench-noop-django"),
    path("noop/api/", NoopApi.as_view(), name="bench-noop-api"),
    path("baseline/count-insert/<slug:stock>/", CountThenInsertApi.as_view(), name="bench-count-insert"),
    path("baseline/locked/<slug:stock>/", LockedStockApi.as_view(), name="bench-locked"),
    path("baseline/redis-incr/<slug:stock>/", RedisIncrApi.as_view(), name="bench-redis-incr"),
]
