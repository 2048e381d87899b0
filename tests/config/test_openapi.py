"""The committed OpenAPI schema (docs/openapi.yaml) is the one the code generates, and it validates."""

from pathlib import Path

from django.core.management import call_command
from django.utils import translation

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_committed_schema_matches_the_code(tmp_path):
    generated = tmp_path / "openapi.yaml"
    # In English whatever language an earlier test left active in this thread (a page rendered for
    # a Korean browser leaves Korean active): `make schema` runs in a fresh process, in English.
    with translation.override("en"):
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))
    assert generated.read_text() == SCHEMA.read_text(), "docs/openapi.yaml is stale: run `make schema`"
