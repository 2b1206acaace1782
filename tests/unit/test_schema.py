"""The event contract's three forms agree: the structs, docs/events.md and the generated files.

docs/schemas/ and docs/asyncapi.yaml are what ``stream.contract.schema`` makes now (regenerate them
with
``make schemas``); every event type and field has its place in docs/events.md; every example there
is accepted by the decoder and by its schema; and the schemas refuse what the decoder refuses.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
import yaml

from stream.cli.main import main
from stream.contract import schema
from stream.contract.decoder import REASONS, Rejection, decode
from stream.contract.events import SurveyResponded
from stream.core.kpis.totals import WindowTotals
from stream.dev.simulate import Simulation
from stream.stages.aggregate import ClosedWindow
from stream.stages.pipeline import _closed_window

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCHEMAS = DOCS / "schemas"
EVENTS_MD = DOCS / "events.md"
REGENERATE = "stale: run `make schemas` and commit docs/schemas/ and docs/asyncapi.yaml"

# Strict RFC 3339 (jsonschema checks no date-time without an extra package): the examples
# publishers copy use the canonical form.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _is_rfc3339(value: object) -> bool:
    return not isinstance(value, str) or RFC3339.fullmatch(value) is not None


def validator(name: str) -> jsonschema.Draft202012Validator:
    document = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document, format_checker=FORMATS)


def errors(name: str, document: object) -> list[str]:
    return [error.message for error in validator(name).iter_errors(document)]


# --------------------------------------------------------------------------------------------
# docs/events.md, read as sections, tables and examples
# --------------------------------------------------------------------------------------------


def section(text: str, heading: str) -> str:
    """The body under ``heading`` (a whole heading line), up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    lines = text.splitlines()
    assert heading in lines, f"docs/events.md has no heading {heading!r}"
    body: list[str] = []
    for line in lines[lines.index(heading) + 1 :]:
        marks = line.split(" ", 1)[0]
        if set(marks) == {"#"} and len(marks) <= len(level):
            break
        body.append(line)
    return "\n".join(body)


def type_sections() -> dict[str, str]:
    """Event type → its section of "## Event types" (headings ``### `type` ``)."""
    found: dict[str, str] = {}
    current: str | None = None
    for line in section(EVENTS_MD.read_text(), "## Event types").splitlines():
        heading = re.fullmatch(r"### `([a-z_.]+)`", line)
        if heading:
            current = heading.group(1)
            assert current not in found, f"two sections for {current}"
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def table_rows(body: str) -> dict[str, list[str]]:
    """Rows of the tables in ``body`` whose first cell is a code name: name → the other cells."""
    rows: dict[str, list[str]] = {}
    for line in body.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and re.fullmatch(r"`[a-z0-9_]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def examples(body: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", body, re.S)]


SECTIONS = type_sections()


def test_every_event_type_has_a_schema_file_and_a_section() -> None:
    assert list(SECTIONS) == list(schema.EVENT_TYPES), "sections of docs/events.md, in order"
    for event_type in schema.EVENT_TYPES:
        assert (SCHEMAS / schema.schema_file(event_type)).is_file(), REGENERATE


@pytest.mark.parametrize("event_type", list(schema.EVENT_TYPES))
def test_every_field_is_in_its_section_as_required_or_with_its_default(event_type: str) -> None:
    rows = table_rows(SECTIONS[event_type])
    fields = msgspec.structs.fields(schema.EVENT_TYPES[event_type])
    assert set(rows) == {"type", *(f.encode_name for f in fields)}
    type_cell, required, default, values = rows["type"][:4]
    assert (type_cell, required, default, values) == ("string", "yes", "—", f"`{event_type}`")
    for field in fields:
        required, default = rows[field.encode_name][1:3]
        if field.required:
            assert (required, default) == ("yes", "—"), field.encode_name
        else:
            assert not required.startswith("yes"), field.encode_name
            shown = msgspec.json.encode(field.default).decode()
            assert default == f"`{shown}`", field.encode_name


@pytest.mark.parametrize("event_type", list(schema.EVENT_TYPES))
def test_the_example_decodes_to_its_type_and_fits_its_schemas(event_type: str) -> None:
    (example,) = examples(SECTIONS[event_type])
    assert example["type"] == event_type
    event = decode(json.dumps(example).encode())
    assert not isinstance(event, Rejection), event
    assert type(event) is schema.EVENT_TYPES[event_type]
    key = "ticket_id" if isinstance(event, SurveyResponded) else schema.KEY_FIELDS[event.topic_kind]
    assert event.contact_id == example[key], "the message key is the contact id"
    assert errors(schema.schema_file(event_type), example) == []
    assert errors(schema.UNION_FILE, example) == []
    assert errors(schema.schema_file(event_type), {**example, "x_unknown": [1, {}]}) == []


def test_every_rejection_reason_is_documented_and_raised_somewhere() -> None:
    rows = table_rows(section(EVENTS_MD.read_text(), "## Rejection reasons"))
    assert list(rows) == list(schema.REJECTION_REASONS)
    raised: set[str] = set()
    for path in (ROOT / "stream").rglob("*.py"):
        raised |= set(re.findall(r"Rejection\(\s*\"(\w+)\"", path.read_text()))
        raised |= set(re.findall(r"Rejected\(\s*\"(\w+)\"", path.read_text()))
    # The decoder's own reasons are stream.contract.decoder.REASONS; the rest are raised by name.
    assert raised - set(REASONS) == set(schema.PROCESSING_REASONS)


# --------------------------------------------------------------------------------------------
# The generated files
# --------------------------------------------------------------------------------------------


def test_checked_in_schemas_are_what_the_structs_give_now() -> None:
    generated = schema.schema_files()
    on_disk = {path.name for path in SCHEMAS.glob("*.json")}
    assert on_disk == set(generated), REGENERATE
    for name, text in generated.items():
        assert (SCHEMAS / name).read_text() == text, f"docs/schemas/{name} is {REGENERATE}"
    asyncapi = schema.asyncapi_document(schemas_ref="schemas/")
    assert (DOCS / schema.ASYNCAPI_FILE).read_text() == asyncapi, f"docs/asyncapi.yaml {REGENERATE}"


def walk(node: object) -> list[tuple[str, object]]:
    """Every (key, value) pair of a JSON or YAML document, at any depth."""
    if isinstance(node, dict):
        return [(k, v) for k, v in node.items()] + [p for v in node.values() for p in walk(v)]
    if isinstance(node, list):
        return [p for v in node for p in walk(v)]
    return []


def test_no_schema_refuses_unknown_fields() -> None:
    for path in SCHEMAS.glob("*.json"):
        pairs = walk(json.loads(path.read_text()))
        assert ("additionalProperties", False) not in pairs, path.name
        assert ("unevaluatedProperties", False) not in pairs, path.name


ENVELOPE = {"event_id": "e-1", "occurred_at": "2026-11-22T14:03:12Z"}
SURVEY = {**ENVELOPE, "type": "survey.responded", "kind": "csat", "score": 4, "ticket_id": "t-1"}
QUEUED = {**ENVELOPE, "type": "call.queued", "call_id": "c-1", "queue": "billing"}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({**SURVEY, "score": 6}, "out_of_range"),
        ({**SURVEY, "score": 0}, "out_of_range"),
        ({**SURVEY, "kind": "nps", "score": 11}, "out_of_range"),
        ({**SURVEY, "kind": "nps", "score": -1}, "out_of_range"),
        ({**SURVEY, "call_id": "c-1"}, "invalid_field"),
        ({k: v for k, v in SURVEY.items() if k != "ticket_id"}, "invalid_field"),
        ({**SURVEY, "ticket_id": None, "call_id": None}, "invalid_field"),
        ({**SURVEY, "kind": "ces"}, "invalid_enum"),
        ({**QUEUED, "channel": None}, "wrong_field_type"),
        ({**QUEUED, "channel": "fax"}, "invalid_enum"),
        ({k: v for k, v in QUEUED.items() if k != "queue"}, "missing_field"),
        ({**QUEUED, "queue": ""}, "invalid_field"),
        ({**QUEUED, "queue": "q" * 65}, "invalid_field"),
        ({**QUEUED, "event_id": "e" * 129}, "invalid_field"),
        ({**QUEUED, "occurred_at": 1795356000}, "wrong_field_type"),
        ({**QUEUED, "type": "call.teleported"}, "unknown_type"),
        ({**ENVELOPE, "type": "order.placed", "customer_id": "u-1", "value": -1}, "out_of_range"),
        ({**ENVELOPE, "type": "ticket.escalated", "ticket_id": "t-1", "level": True}, None),
        ({**ENVELOPE, "type": "ticket.message_added", "ticket_id": "t-1"}, "missing_field"),
    ],
)
def test_the_schemas_refuse_what_the_decoder_refuses(
    document: dict[str, object], reason: str | None
) -> None:
    rejection = decode(json.dumps(document).encode())
    assert isinstance(rejection, Rejection)
    assert reason is None or rejection.reason == reason, rejection
    assert errors(schema.UNION_FILE, document), "the union schema accepts it"
    event_type = str(document["type"])
    if event_type in schema.EVENT_TYPES:
        assert errors(schema.schema_file(event_type), document), "its schema accepts it"


@pytest.mark.parametrize(
    "document",
    [
        {**SURVEY, "kind": "nps", "score": 0},
        {**SURVEY, "ticket_id": None, "call_id": "c-1"},
        {**QUEUED, "channel": "chat", "unknown": {"nested": [1, 2]}},
        {**ENVELOPE, "type": "call.answered", "call_id": "c-1", "agent_id": "a", "queue": None},
    ],
)
def test_the_schemas_accept_what_the_decoder_accepts(document: dict[str, object]) -> None:
    assert not isinstance(decode(json.dumps(document).encode()), Rejection)
    assert errors(schema.UNION_FILE, document) == []
    assert errors(schema.schema_file(str(document["type"])), document) == []


def test_simulated_traffic_fits_the_union_schema() -> None:
    """The simulator publishes contract JSON (``stream.contract.decoder.encode``) of every type."""
    union = validator(schema.UNION_FILE)
    seen: Counter[str] = Counter()
    for sim in Simulation(seed=7, start=datetime(2026, 11, 22, tzinfo=UTC)).take(3000):
        document = json.loads(msgspec.json.encode(sim.event))
        seen[document["type"]] += 1
        assert [e.message for e in union.iter_errors(document)] == [], document
    # The connectors' queue exits are not simulated yet.
    not_simulated = {"call.exited"}
    assert set(seen) == set(schema.EVENT_TYPES) - not_simulated


def test_a_published_window_fits_its_schema_and_the_documented_example() -> None:
    totals = WindowTotals(offered=3, answered=2, wait_seconds=41.5, csat_responses=1)
    published = _closed_window(ClosedWindow("billing", "today", 1795305600.0, 1795392000.0, totals))
    document = json.loads(published.value)
    assert errors(schema.WINDOWS_FILE, document) == []
    windows_doc = section(EVENTS_MD.read_text(), "### `kpi-windows`")
    (example,) = examples(windows_doc)
    assert errors(schema.WINDOWS_FILE, example) == []
    assert set(example["totals"]) == set(document["totals"])
    key_schema = yaml.safe_load((DOCS / schema.ASYNCAPI_FILE).read_text())["components"][
        "messages"
    ]["closed-window"]["bindings"]["kafka"]["key"]
    assert re.fullmatch(key_schema["pattern"], published.key.decode() if published.key else "")


def test_asyncapi_parses_and_references_every_schema_file() -> None:
    document = yaml.safe_load((DOCS / schema.ASYNCAPI_FILE).read_text())
    assert document["asyncapi"] == "3.0.0"
    refs = [value for key, value in walk(document) if key == "$ref"]
    files = {ref for ref in refs if isinstance(ref, str) and not ref.startswith("#")}
    wanted = {f"schemas/{schema.schema_file(t)}" for t in schema.EVENT_TYPES}
    assert files == wanted | {f"schemas/{schema.WINDOWS_FILE}"}
    assert all((DOCS / ref).is_file() for ref in files)
    for ref in refs:  # every local reference points at something
        if isinstance(ref, str) and ref.startswith("#/"):
            node: Any = document
            for part in ref[2:].split("/"):
                node = node[part]
    for kind in schema.TOPIC_KINDS:
        channel = document["channels"][kind]
        mine = [t for t, cls in schema.EVENT_TYPES.items() if cls.topic_kind == kind]
        assert list(channel["messages"]) == mine
        assert schema.topic_setting(kind) in channel["description"]
    assert {"kpi-dead-letter", "kpi-windows"} <= set(document["channels"])
    headers = document["components"]["messages"]["dead-letter"]["headers"]
    assert headers["properties"]["reason"]["enum"] == list(schema.REJECTION_REASONS)


# --------------------------------------------------------------------------------------------
# python -m stream schema
# --------------------------------------------------------------------------------------------


def test_the_schema_command_writes_the_checked_in_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "docs" / "schemas"
    assert main(["schema", "--out", str(out)]) == 0
    assert f"{len(schema.schema_files())} schemas in {out}" in capsys.readouterr().out
    for path in [*SCHEMAS.glob("*.json"), DOCS / schema.ASYNCAPI_FILE]:
        written = out / path.name if path.suffix == ".json" else out.parent / path.name
        assert written.read_text() == path.read_text(), path.name
    (out / "call.teleported.json").write_text("{}")
    assert main(["schema", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert ": 0 files changed" in said
    assert "no longer generated (remove them): call.teleported.json" in said


def test_the_schema_command_points_asyncapi_at_the_schemas_wherever_they_are(
    tmp_path: Path,
) -> None:
    out, asyncapi = tmp_path / "a" / "json", tmp_path / "b" / "api.yaml"
    assert main(["schema", "--out", str(out), "--asyncapi", str(asyncapi)]) == 0
    refs = {v for k, v in walk(yaml.safe_load(asyncapi.read_text())) if k == "$ref"}
    assert "../a/json/call.queued.json" in refs
