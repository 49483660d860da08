"""`sessionsim schema` describes the files people write: every bundled scenario validates."""

from __future__ import annotations

import datetime
import json

import jsonschema
import pytest
import yaml

from sessionsim.cli.schema_docs import describe
from sessionsim.scenario import RunScenario
from tests.conftest import SCENARIOS
from tests.helpers import run_cli


def _as_an_editor_sees_it(node):
    """YAML as text: an unquoted timestamp is text to a schema-checking editor."""
    if isinstance(node, dict):
        return {k: _as_an_editor_sees_it(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_an_editor_sees_it(v) for v in node]
    if isinstance(node, datetime.datetime):
        return node.isoformat()
    return node


@pytest.fixture(scope="module")
def validator():
    schema = describe(RunScenario.model_json_schema())  # what `sessionsim schema` prints
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bundled_scenario_validates_against_the_schema(validator, path):
    data = _as_an_editor_sees_it(yaml.safe_load(path.read_text()))
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("duration: 30\n", "is not of type 'string'"),
        ("duration: 30 parsecs\n", "does not match"),
        ("population: {userz: 5}\n", "Additional properties"),
    ],
)
def test_the_schema_rejects_what_loading_rejects(validator, text, needle):
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
    assert any(needle in m for m in errors), errors


def test_schema_command_prints_that_schema(capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "schema")
    assert code == 0 and json.loads(out) == describe(RunScenario.model_json_schema())


def test_every_field_of_the_schema_has_a_description(validator):
    schema = validator.schema
    nodes = [("(top level)", schema), *schema["$defs"].items()]
    missing = [
        f"{name}.{key}"
        for name, node in nodes
        for key, prop in node.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert missing == []
