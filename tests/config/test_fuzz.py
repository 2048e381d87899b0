"""Schemathesis fuzzes every operation of docs/openapi.yaml against the app in-process, with real data.

Each operation is tried four ways: valid requests aimed at real objects (the
open campaign, the room, the seat campaign, the owner's grant and coupon) with
the owner's bearer token and without credentials, valid requests anywhere, and
requests the schema forbids. Every write is tried once more with hostile
bodies in place of the generated one: the fixed list of
tests/config/test_hostile_bodies.py, nesting of any depth, integers beyond
bigint, random bytes and generated bodies cut short. Every answer must be
below 500 and documented: status code, content type and body. Hypothesis is
derandomized, so a run is repeatable, and bounded by EXAMPLES per way.
"""

import contextlib
from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.api.parsers import MAX_DEPTH
from config.wsgi import application
from tests.config.test_hostile_bodies import HOSTILE_BODIES
from tests.config.world import World, build_world

pytestmark = pytest.mark.django_db

SCHEMA = schemathesis.openapi.from_path(Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml")
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25


@pytest.fixture
def in_process_requests():
    """Requests run inside the test's transaction: Django must not close the connection after each one
    (its test client disconnects the same signal handler)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def real_path_parameters(world: World, path: str) -> dict[str, str]:
    """Path parameters naming objects that exist, so a valid request reaches the code behind the lookup."""
    if path.startswith("/api/v1/partner/campaigns/"):
        return {"slug": world.partner_campaign.slug.removeprefix(f"{world.partner.namespace}-")}
    if path.startswith("/api/v1/partner/grants/"):
        return {"grant_id": str(world.partner_grant.pk)}
    if path.startswith("/api/v1/campaigns/{slug}/seats/"):
        return {"slug": world.seat_campaign.slug, "label": world.seat.label}
    if path.startswith("/api/v1/campaigns/"):
        return {"slug": world.campaign.slug}
    if path.startswith("/api/v1/rooms/"):
        return {"slug": world.room.slug}
    if path.startswith("/api/v1/rankings/"):
        return {"slug": world.board.slug, "member": world.board_member}
    if path.startswith("/api/v1/grants/"):
        return {"grant_id": str(world.grant.pk)}
    if path.startswith("/api/v1/coupons/"):
        return {"code": world.coupon.code}
    return {}


def credentials(world: World, path: str) -> dict[str, str]:
    """The owner's bearer token; the partner API takes the partner's API key instead."""
    if path.startswith("/api/v1/partner/"):
        return {"Authorization": f"Api-Key {world.partner_key_plain}"}
    return {"Authorization": f"Bearer {world.token(world.owner)}"}


def fuzz(strategy, headers: dict[str, str], *, hostile: bool = False) -> None:
    """Run the checks on `strategy`'s cases; with `hostile`, it gives (case, raw body) and the body is sent instead."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(example=strategy)
    def run(example):
        case, body = example if hostile else (example, None)
        extra = {} if body is None else {"data": body}
        response = case.call(app=application, headers=headers, **extra)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_every_operation_answers_as_documented(operation, in_process_requests):
    world = build_world()
    headers = credentials(world, operation.path)
    parameters = {
        name: value
        for name, value in real_path_parameters(world, operation.path).items()
        if f"{{{name}}}" in operation.path
    }
    aimed = operation.as_strategy(path_parameters=parameters or None)
    fuzz(aimed, headers)
    fuzz(aimed, headers={})  # anonymous
    if parameters:
        fuzz(operation.as_strategy(), headers)
    # Unsatisfiable: the schema forbids nothing here (a free-form string in the path, no query, no body).
    with contextlib.suppress(Unsatisfiable):
        fuzz(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), headers)


def hostile_bodies(case_strategy):
    """(case, raw body) pairs: a generated case and a body the JSON parser must refuse (or at least survive)."""
    nested = st.integers(min_value=MAX_DEPTH + 1, max_value=5000).flatmap(
        lambda depth: st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth])
    )
    beyond_bigint = st.integers(min_value=2**63).map(lambda n: b'{"token": %d, "access_pass": "%d"}' % (n, n))
    cut_short = case_strategy.flatmap(
        lambda case: st.integers(min_value=0, max_value=max(0, len(repr(case.body)) - 1)).map(
            lambda at: repr(case.body).encode()[:at]
        )
    )
    bodies = st.one_of(
        st.sampled_from([body for body, content_type in HOSTILE_BODIES.values() if content_type == "application/json"]),
        nested,
        beyond_bigint,
        st.binary(max_size=300),
        cut_short,
    )
    return st.tuples(case_strategy, bodies)


WRITES = [operation for operation in OPERATIONS if operation.method.upper() in ("POST", "PUT", "PATCH", "DELETE")]


@pytest.mark.parametrize("operation", WRITES, ids=[operation.label for operation in WRITES])
def test_every_write_answers_hostile_bodies_as_documented(operation, in_process_requests):
    world = build_world()
    parameters = {
        name: value
        for name, value in real_path_parameters(world, operation.path).items()
        if f"{{{name}}}" in operation.path
    }
    strategy = hostile_bodies(operation.as_strategy(path_parameters=parameters or None))
    headers = {**credentials(world, operation.path), "Content-Type": "application/json"}
    fuzz(strategy, headers, hostile=True)
    fuzz(strategy, {"Content-Type": "application/json"}, hostile=True)  # anonymous
