"""The production topology of deploy/ on this run's test stores: one per module.

Everything is started by deploy/topology.py from the systemd units and the nginx
configuration, with the production settings (DEBUG off, HTTPS, the manifest
storage); only the variables differ: the test database, this run's Redis key
prefix and broker queues. The tests in these modules talk to it over the network
and use the ORM only through `orm` (the data lives for the module, and the
module's teardown empties the database as transactional tests do).
"""

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from deploy import units
from deploy.topology import Topology

pytestmark = pytest.mark.production

ADMIN_PASSWORD = "prod-smoke-" + secrets.token_urlsafe(8)


def require_tool(name: str, package: str) -> str:
    """The path of a system tool; skip (saying how to get it) only when it is not installed."""
    path = units.tool(name)
    if path is None:
        pytest.skip(f"{name} is not installed: apt-get install {package} (make test installs it when run as root)")
    return path


def database_url() -> str:
    """The test database pytest-django created (not the run database)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def scratch_dir(prefix: str) -> Path:
    """A directory the topology's unprivileged user and nginx's workers can traverse
    (pytest's tmp_path sits under a directory only root may enter)."""
    path = Path(tempfile.mkdtemp(prefix=f"firstcome-{prefix}-"))
    path.chmod(0o755)
    return path


def production_env(static_root: Path) -> dict[str, str]:
    """What /etc/firstcome/env would hold, pointed at this run's share of the test stores."""
    return {
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_BROKER_KEY_PREFIX": settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"],
        # The tests mint bearer tokens in-process: the same key signs them.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DJANGO_STATIC_ROOT": str(static_root),
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "METRICS_TOKEN": secrets.token_urlsafe(24),
    }


@pytest.fixture(scope="session")
def release(django_db_setup, django_db_blocker):
    """firstcome-release.service once per run: migrate (the test database is already
    migrated: a no-op) and collectstatic with the production storage. A post-processing
    error (a reference to a missing file) fails it, and every production test with it."""
    with django_db_blocker.unblock():
        env = production_env(Path("/nonexistent"))
    directory = scratch_dir("release")
    env["DJANGO_STATIC_ROOT"] = str(directory / "static")
    topology = Topology.create(directory, env)
    topology.release()
    yield topology
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def topology_factory(release, django_db_blocker):
    """Start topologies (`web_nodes`, ports...) for this module; all stop at its end, and the
    database is emptied as a transactional test leaves it."""
    require_tool("nginx", "nginx")
    started: list[tuple[Topology, Path]] = []

    def start(*, web_nodes: int = 1, **options) -> Topology:
        directory = scratch_dir("topology")
        env = {**release.env, "METRICS_TOKEN": secrets.token_urlsafe(24)}
        topology = Topology.create(directory, env, web_nodes=web_nodes, **options)
        started.append((topology, directory))
        return topology.start()

    yield start
    for topology, directory in started:
        topology.stop()
        shutil.rmtree(directory, ignore_errors=True)
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def orm(django_db_blocker):
    """ORM access in a test of these modules: committed at once, seen by the topology."""
    with django_db_blocker.unblock():
        yield
