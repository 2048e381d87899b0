"""Fixtures of the chaos suite: a private PostgreSQL cluster for the session, a scenario per test,
and the per-scenario report (terminal summary, test-artifacts/chaos-report.{json,md})."""

import json

import pytest

from tests.chaos import harness
from tests.chaos.stores import PG_BIN, PostgresCluster
from tests.processes import ROOT

TEMPLATE = "chaos_template"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def chaos_cluster():
    """PostgreSQL of our own (one scenario restarts it), migrated once into a template database."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"the chaos suite needs the PostgreSQL 15 server binaries in {PG_BIN} (apt install postgresql-15)")
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.migrate(TEMPLATE)
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def scenario(request, chaos_cluster, tmp_path, django_db_blocker):
    """The running scenario for this test: its database, its Redis, its processes (see harness.Scenario)."""
    name = request.node.name.removeprefix("test_").replace("_", "-")
    with (
        django_db_blocker.unblock(),
        harness.Scenario(name, cluster=chaos_cluster, template=TEMPLATE, directory=tmp_path) as running,
    ):
        yield running


def pytest_terminal_summary(terminalreporter):
    if not harness.REPORTS:
        return
    terminalreporter.section("chaos scenarios")
    terminalreporter.write_line(harness.markdown_table(harness.REPORTS))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "chaos-report.json").write_text(json.dumps([r.row() for r in harness.REPORTS], indent=2))
    (ARTIFACTS / "chaos-report.md").write_text(harness.markdown_table(harness.REPORTS) + "\n")
    terminalreporter.write_line(f"written to {ARTIFACTS}/chaos-report.json and .md")
