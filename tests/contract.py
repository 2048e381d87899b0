"""Every API answer the test suite receives is checked against docs/openapi.yaml, strictly.

A typed client generated from the schema trips on what the schema does not
say: a status it does not list, a field it does not declare, a value outside
an enum, a required field missing. tests/conftest.py wraps the test client so
that every JSON answer under /api/ that a test receives in-process is checked
here, and a test whose answers left the contract fails, whatever it asserted
itself. The check is stricter than OpenAPI's default: an object may carry no
property its schema does not declare (`unevaluatedProperties: false`), so an
undocumented field in an error body fails the test that received it.
"""

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "openapi.yaml"


@dataclass
class Log:
    """What one test's answers were: the paths checked, and what broke the contract."""

    checked: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Operation:
    template: str
    pattern: re.Pattern
    responses: dict


def _strict(node, components: dict):
    """The OpenAPI 3.0 schema `node` as a JSON Schema 2020-12 one: refs inlined, `nullable` as a type,
    and objects closed to properties they do not declare."""
    if isinstance(node, list):
        return [_strict(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _strict(components[name], components)
    out = {key: _strict(value, components) for key, value in node.items() if key not in {"nullable", "example"}}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
        return out
    if out.get("type") == "object" and "additionalProperties" not in out:
        out["unevaluatedProperties"] = False
    return out


@functools.cache
def operations() -> dict[str, list[Operation]]:
    """Per HTTP method, the schema's operations with the regex of their path, literal paths first."""
    document = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    components = document.get("components", {}).get("schemas", {})
    by_method: dict[str, list[Operation]] = {}
    for template, item in document["paths"].items():
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        for method, operation in item.items():
            responses = {}
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                schema = content.get("application/json", {}).get("schema")
                responses[status] = None if schema is None else Draft202012Validator(_strict(schema, components))
            by_method.setdefault(method.upper(), []).append(Operation(template, re.compile(regex), responses))
    for ops in by_method.values():
        ops.sort(key=lambda op: op.template.count("{"))
    return by_method


def violations(*, method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What in one answer the schema does not allow (empty: it conforms). Paths the schema does not
    describe (an unknown URL's 404) are not the contract's business."""
    operation = next((op for op in operations().get(method, []) if op.pattern.match(path)), None)
    if operation is None:
        return []
    where = f"{method} {path} → {status} ({operation.template})"
    if str(status) not in operation.responses:
        return [f"{where}: status {status} is not documented"]
    schema = operation.responses[str(status)]  # a validator, built once per operation and status
    if not content_type.startswith("application/json"):
        return [] if schema is None else [f"{where}: answered {content_type or 'no content type'}, documented JSON"]
    if schema is None:
        return [f"{where}: answered JSON, documented without a body"]
    try:
        document = json.loads(body)
    except ValueError:
        return [f"{where}: the body is not JSON"]
    return [
        f"{where}: {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in schema.iter_errors(document)
    ]
