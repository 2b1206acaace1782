"""The side-by-side job's rules, its reference over a recorded file, and its report section."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.rivals import SMOKE, Run, SideBySide, load_summary, section, summary
from benchmarks.rivals_job import (
    ANSWERED,
    OFFERED,
    Fact,
    Outcome,
    differences,
    reference,
    step,
    window_differences,
)
from stream.contract.decoder import encode
from stream.contract.events import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallQueued,
    Event,
    TicketCreated,
)

T0 = datetime(2026, 12, 7, 10, 14, 50, tzinfo=UTC)  # 10 s before the 10:15 window


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_an_answer_counts_in_the_queue_it_was_queued_in_and_within_20_s_inclusive() -> None:
    queued = CallQueued(event_id="e1", occurred_at=_at(0), call_id="c1", queue="billing")
    state, fact = step(None, queued)
    assert state == ("billing", T0.timestamp())
    assert fact == Fact("billing", OFFERED, T0.timestamp(), False)
    answered = CallAnswered(event_id="e2", occurred_at=_at(20), call_id="c1", agent_id="a1")
    assert step(state, answered) == (None, Fact("billing", ANSWERED, _at(20).timestamp(), True))
    late = CallAnswered(event_id="e3", occurred_at=_at(20.5), call_id="c1", agent_id="a1")
    assert step(state, late)[1] == Fact("billing", ANSWERED, _at(20.5).timestamp(), False)


def test_repeated_and_unknown_calls_book_nothing() -> None:
    queued = CallQueued(event_id="e1", occurred_at=_at(0), call_id="c1", queue="billing")
    state, _ = step(None, queued)
    assert step(state, queued) == (state, None)  # queued twice
    gone = CallAbandoned(event_id="e4", occurred_at=_at(3), call_id="c9")
    assert step(None, gone) == (None, None)  # never queued


def test_the_reference_books_all_time_and_15_minute_windows_from_the_file(tmp_path: Path) -> None:
    events: list[Event] = [
        CallQueued(event_id="q1", occurred_at=_at(0), call_id="c1", queue="billing"),
        CallQueued(event_id="q2", occurred_at=_at(1), call_id="c2", queue="billing"),
        CallQueued(event_id="q3", occurred_at=_at(2), call_id="c3", queue="sales"),
        TicketCreated(
            event_id="t1",
            occurred_at=_at(3),
            ticket_id="t1",
            queue="billing",
            channel="email",
            customer_id="x",
        ),
        CallAnswered(event_id="a1", occurred_at=_at(15), call_id="c1", agent_id="a"),  # 10:15:05
        CallAbandoned(event_id="b2", occurred_at=_at(40), call_id="c2"),
        CallAnswered(event_id="a3", occurred_at=_at(62), call_id="c3", agent_id="b"),  # 60 s
        CallEnded(event_id="e1", occurred_at=_at(100), call_id="c1"),
        CallAnswered(event_id="a9", occurred_at=_at(101), call_id="c2", agent_id="a"),  # gone
    ]
    path = tmp_path / "set.ndjson"
    path.write_bytes(b"".join(encode(e) + b"\n" for e in events))
    tally = reference(path)
    assert tally.totals == {"billing": [2, 1, 1, 1], "sales": [1, 1, 0, 0]}
    w1000, w1015 = int(T0.timestamp()) - 890, int(_at(10).timestamp())  # 10:00, 10:15
    assert tally.windows == {
        ("billing", w1000): [2, 0, 0, 0],
        ("billing", w1015): [0, 1, 1, 1],
        ("sales", w1000): [1, 0, 0, 0],
        ("sales", w1015): [0, 1, 0, 0],
    }
    # What a contender hands back survives its JSON file; a wrong queue is counted once.
    out = tmp_path / "outcome.json"
    Outcome(tally, 9, 1.0, 2.0).dump(out)
    back = Outcome.load(out)
    assert back.tally == tally and back.events == 9 and back.rejected == 0
    assert differences(back.tally.totals, tally.totals) == 0
    wrong = {"billing": [2, 1, 1, 0], "sales": [1, 1, 0, 0], "extra": [1, 0, 0, 0]}
    assert differences(wrong, tally.totals) == 2
    assert window_differences(list(tally.windows.items())[1:], tally) == 1


def test_the_section_says_why_a_contender_did_not_run_and_who_is_not_exact(
    tmp_path: Path,
) -> None:
    side = SideBySide(SMOKE, started_at="2026-12-07 15:00 UTC", events=2_000_000, queues=6)
    side.versions = {"quix": "3.28.1"}
    side.runs = [
        Run("raw", 2_000_000, 4.0, 6.0, 1.0, 50 * 2**20, 0, 0, 0),
        Run("worker", 2_000_000, 40.0, 60.0, 10.0, 300 * 2**20, 0, 0, None),
        Run("quix", 2_000_000, 80.0, 90.0, 20.0, 400 * 2**20, 2, 7, 5),
    ]
    side.skipped = {"bytewax": "not installed: the `bench` extra"}
    text = section(side, "rivals.png")
    assert "| raw aiokafka consumer + `stream.contract.events.decode` (ceiling) | 500,000 | " \
           "1.000 | 3.0 | 0.5 | 50 MiB | yes (all time + windows) |" in text  # fmt: skip
    assert "| 50,000 | 0.100 | 30.0 | 5.0 | 300 MiB | yes (all time) |" in text
    assert "| Bytewax | — | — | — | — | — | not installed: the `bench` extra |" in text
    assert "| Quix Streams 3.28.1 | 25,000 | 0.050 | 45.0 | 10.0 | 400 MiB | " \
           "**no**: 2 queues, 5 windows differ, 7 events refused |" in text  # fmt: skip
    assert text.startswith("## Side by side\n") and "![side by side](rivals.png)" in text
    assert (
        "raw aiokafka consumer 500,000; this project's worker 50,000; Quix Streams 25,000." in text
    )
    # --report-only writes the same section again from the run's rivals.json.
    saved = tmp_path / "rivals.json"
    saved.write_text(json.dumps(summary(side), default=str))
    assert section(load_summary(saved), "rivals.png") == text
