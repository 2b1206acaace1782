"""Same seed, same bytes: digests of small recorded sets pin the simulator's output.

A change to the model, its random draws, the dirty input, the recording or the routing of a
recorded line changes a digest here. A deliberate change of the traffic updates them, saying
so in its commit; a refactoring must leave every one as it is."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stream.contract.decoder import encode
from stream.contract.topics import route
from stream.dev.simulate import (
    DEFAULT_QUEUES,
    Contaminator,
    Simulation,
    start_ending_at,
    write_ndjson,
)

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("seed", "rate", "n_events", "digest"),
    [
        (1, 1.0, 2000, "0eeda284edf8600133934b576479638a343a0156c7f052bd4dd8d064c7aa4f65"),
        (7, 2.5, 3000, "ec00c30e92cf3829c97773a129dfe28d6d10ca9af59094e61ca0fda657992338"),
        (42, 0.5, 1000, "8e7958b8376562d9bf4274c7e8374747902d7464340b59d5555a0d275c1c00ba"),
    ],
)
def test_a_recording_is_pinned(
    seed: int, rate: float, n_events: int, digest: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.ndjson"
    assert write_ndjson(path, n_events, seed, START, rate_multiplier=rate) == n_events
    assert sha256(path.read_bytes()) == digest


def test_the_traffic_without_flows_and_its_routing_are_pinned() -> None:
    """``flows=False`` is what the connectors' generators tell; kind and key ride along."""
    sim = Simulation(seed=5, start=START, queues=DEFAULT_QUEUES[:2], flows=False)
    lines = b"".join(
        f"{e.kind} {e.key} {e.at!r} ".encode() + encode(e.event) + b"\n" for e in sim.take(2000)
    )
    assert sha256(lines) == "0ce80566ab6edeb2220167849efde20f090c99a6cf3987d17b1f689186f4658c"


def test_the_dirty_input_and_the_routing_of_each_line_are_pinned() -> None:
    """What ``publish`` sends after each clean event, and where ``replay`` sends every line."""
    contaminator = Contaminator(0.3, 11 ^ 0x5EED)
    sent: list[tuple[str, bytes]] = []
    for item in Simulation(seed=11, start=START, rate_multiplier=4.0).take(1500):
        value = encode(item.event)
        sent.append(("clean", value))
        sent.extend((dirty.label, dirty.value) for dirty in contaminator.after(item.kind, value))
    labels = [label for label, _ in sent]
    counts = {label: labels.count(label) for label in sorted(set(labels))}
    assert counts == {
        "clean": 1500,
        "duplicate": 190,
        "invalid_json": 99,
        "missing_field": 91,
        "unknown_type": 85,
    }
    assert sha256(b"\n".join(label.encode() + b" " + value for label, value in sent)) == (
        "2e6169f970a6a9c38eb5bdcd8652796b3941cbb8ed92b7c844405ded836be42f"
    )
    routes = [route(value) for _, value in sent]
    assert sha256(repr(routes).encode()) == (
        "9ace9ae941d452bb611a1705590e23ed5698c1b467ffd13193bc2f7b41193762"
    )
    # Replay skips exactly the truncated documents; the other rejects reach the dead letters.
    unroutable = [label for (label, _), r in zip(sent, routes, strict=True) if r is None]
    assert unroutable == ["invalid_json"] * 99


def test_a_recording_ending_now_starts_where_it_did() -> None:
    end = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    start = start_ending_at(end, 5000, 3, rate_multiplier=2.0)
    assert start.isoformat() == "2026-12-01T10:55:54.110000+00:00"
    events = list(itertools.islice(Simulation(seed=3, start=start, rate_multiplier=2.0), 5000))
    assert events[-1].at == end.timestamp()
