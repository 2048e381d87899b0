"""Shared fixtures: a clean test Redis per test, API clients, users and tokens."""

import socket

import pytest
from django.conf import settings
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from accounts import services as account_services
from tests.accounts.factories import UserFactory
from tests.isolation import redis_flush


@pytest.fixture(autouse=True)
def redis_clean():
    """Every test starts with none of this run's keys in the test Redis (never the run
    database, never another checkout's run: tests/isolation.py)."""
    redis_flush()
    from waitingroom.selectors import rooms_forget

    rooms_forget()  # rows cached by an earlier test were rolled back without a signal
    from accounts.selectors import api_token_generation_forget

    api_token_generation_forget()  # likewise the token generations this process kept in memory
    yield get_redis_connection("default")


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts in the site's default language: a request in Korean (LocaleMiddleware
    activates the reader's language in this thread and leaves it) must not make a later test's
    English assertions depend on the order the tests run in."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def standalone_redis():
    """For tests of a standalone Redis feature (CONFIG SET on the server, one database to flush)."""
    if settings.TEST_REDIS_CLUSTER_URL:
        pytest.skip("needs a standalone Redis; this run is on a Redis Cluster")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def bearer(user):
    """An API client authenticated with a bearer token of `user`."""
    token, _ = account_services.api_token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def closed_port() -> int:
    """A loopback TCP port with nothing listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def worker_factory(tmp_path, transactional_db):
    """Start real Celery worker processes on the test stores; all are stopped afterwards."""
    from tests import processes

    started: list = []

    def start(**kwargs):
        proc = processes.start_worker(tmp_path, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def web_server(tmp_path, transactional_db):
    from tests import processes

    proc = processes.start_web(tmp_path)
    yield proc
    proc.stop()
