"""The watermark from the source partitions' progress (``stream.core.progress``): table-driven."""

from __future__ import annotations

import pytest

from stream.core.progress import Progress, SourceMark, advance, merge, slowest, stream_time
from stream.read import ReadView

# A report: (high mark, next offset, end offset); one router sends them with one stamp.
Report = tuple[float | None, int, int]

# (case, expected sources, reports by source, wall now, last event wall, expected stream time)
CASES: list[tuple[str, set[str], dict[str, Report], float | None]] = [
    ("nothing heard", set(), {}, None),
    ("one source caught up: its high mark", set(), {"calls/0": (500.0, 10, 10)}, 500.0),
    (
        "the slowest source behind holds the others",
        set(),
        {"calls/0": (5000.0, 10, 90), "calls/1": (800.0, 4, 40), "tickets/0": (9000.0, 7, 7)},
        800.0,
    ),
    (
        "caught-up sources do not hold back (idleness from offsets)",
        set(),
        {"calls/0": (5000.0, 10, 90), "calls/1": (800.0, 40, 40)},
        5000.0,
    ),
    (
        "an empty partition (end 0) never holds back",
        set(),
        {"calls/0": (700.0, 3, 3), "agents/0": (None, 0, 0)},
        700.0,
    ),
    (
        "a source behind that has routed nothing holds everything",
        set(),
        {"calls/0": (700.0, 3, 3), "calls/1": (None, 0, 50)},
        None,
    ),
    (
        "an expected source never heard from holds everything",
        {"calls/0", "calls/1"},
        {"calls/0": (700.0, 3, 3)},
        None,
    ),
    ("an end offset not known yet is not caught up", set(), {"calls/0": (700.0, 3, -1)}, 700.0),
    (
        "all caught up: the newest high mark",
        {"calls/0", "calls/1"},
        {"calls/0": (700.0, 3, 3), "calls/1": (650.0, 9, 9)},
        700.0,
    ),
]


@pytest.mark.parametrize(
    ("expected", "reports", "time"), [pytest.param(*row[1:], id=row[0]) for row in CASES]
)
def test_stream_time(expected: set[str], reports: dict[str, Report], time: float | None) -> None:
    progress = Progress()
    stamp = max((r[0] for r in reports.values() if r[0] is not None), default=None)
    merge(progress, [(source, *report, stamp) for source, report in reports.items()])
    got = stream_time(progress, expected, wall_now=10.0, last_event_wall=10.0, idle_seconds=30.0)
    assert got == time


@pytest.mark.parametrize(
    ("last_wall", "wall_now", "time"),
    [
        (None, 1000.0, 500.0),  # no event applied here yet: event time only
        (990.0, 1000.0, 500.0),  # busy
        (970.1, 1000.0, 500.0),  # 29.9 s quiet: still event time
        (970.0, 1000.0, 1000.0),  # quiet for exactly idle: follows the wall clock
        (100.0, 400.0, 500.0),  # events ahead of the wall clock: never goes back
    ],
)
def test_all_caught_up_and_quiet_follows_the_wall_clock(
    last_wall: float | None, wall_now: float, time: float
) -> None:
    progress = Progress({"calls/0": SourceMark(500.0, 8, 8, caught_up_at=500.0)})
    got = stream_time(
        progress, set(), wall_now=wall_now, last_event_wall=last_wall, idle_seconds=30.0
    )
    assert got == time


def test_a_source_behind_is_never_overtaken_by_the_wall_clock() -> None:
    progress = Progress(
        {
            "calls/0": SourceMark(500.0, 8, 80),
            "calls/1": SourceMark(900.0, 3, 3, caught_up_at=900.0),
        }
    )
    got = stream_time(progress, set(), wall_now=5000.0, last_event_wall=0.0, idle_seconds=30.0)
    assert got == 500.0


def test_merge_keeps_the_highest_mark_and_the_newest_offsets() -> None:
    progress = Progress()
    assert merge(progress, [("calls/0", 500.0, 10, 10, 500.0)])
    assert not merge(progress, [("calls/0", 400.0, 10, 10, 400.0)])  # older: no change
    assert progress.sources["calls/0"] == SourceMark(500.0, 10, 10, caught_up_at=500.0)
    # the partition's new owner re-reads from the committed offset while new records arrived:
    # its report (larger end offset) says behind, whatever the previous owner said last
    assert merge(progress, [("calls/0", 450.0, 6, 30, 450.0)])
    assert progress.sources["calls/0"] == SourceMark(500.0, 6, 30, caught_up_at=500.0)
    assert not progress.sources["calls/0"].caught_up
    assert not merge(progress, [("calls/0", 480.0, 10, 10, 480.0)])  # the old owner, stale
    assert not progress.sources["calls/0"].caught_up
    assert merge(progress, [("calls/0", 620.0, 30, 30, 620.0)])
    assert progress.sources["calls/0"].caught_up


def test_a_quiet_partition_follows_its_owners_stamp() -> None:
    progress = Progress()
    merge(progress, [("calls/0", 100.0, 5, 5, 100.0), ("calls/1", 100.0, 9, 50, 100.0)])
    for high in (200.0, 300.0, 400.0):  # calls/1 reads a backlog; calls/0 gets nothing new
        merge(progress, [("calls/0", 100.0, 5, 5, high), ("calls/1", high, 9, 50, high)])
    assert progress.sources["calls/0"].caught_up_at == 400.0
    assert stream_time(progress, set(), wall_now=0.0, last_event_wall=0.0, idle_seconds=30.0) == (
        400.0
    )


def test_a_dead_owners_caught_up_claim_holds_the_stream_where_it_was() -> None:
    """calls/0's owner reported it caught up at 400, then died while records piled up in it;
    calls/1's owner reads on to 9000: windows must wait for calls/0's new owner."""
    progress = Progress()
    merge(progress, [("calls/0", 350.0, 5, 5, 400.0), ("calls/1", 400.0, 9, 9, 400.0)])
    for high in (1000.0, 5000.0, 9000.0):
        merge(progress, [("calls/1", high, 9, 500, high)])  # only the survivor reports
    kwargs = {"wall_now": 0.0, "last_event_wall": 0.0, "idle_seconds": 30.0}
    assert stream_time(progress, set(), **kwargs) == 400.0
    merge(progress, [("calls/0", 350.0, 5, 80, 9000.0)])  # its new owner: behind
    assert stream_time(progress, set(), **kwargs) == 350.0
    merge(progress, [("calls/0", 2000.0, 40, 80, 9000.0)])
    assert stream_time(progress, set(), **kwargs) == 2000.0


def test_the_watermark_is_stream_time_minus_grace_and_never_goes_back() -> None:
    progress = Progress()
    kwargs = {"grace_seconds": 60.0, "wall_now": 0.0, "last_event_wall": 0.0, "idle_seconds": 30.0}
    assert not advance(progress, set(), **kwargs)  # nothing known: no watermark
    assert progress.watermark is None
    merge(progress, [("calls/0", 1000.0, 5, 5, 1000.0)])
    assert advance(progress, set(), **kwargs)
    assert progress.watermark == 940.0
    merge(progress, [("calls/1", 300.0, 1, 9, 300.0)])  # a new source far behind
    assert not advance(progress, set(), **kwargs)
    assert progress.watermark == 940.0  # closed windows stay closed
    merge(progress, [("calls/0", 1000.0, 5, 5, 2000.0), ("calls/1", 2000.0, 9, 9, 2000.0)])
    assert advance(progress, set(), **kwargs)
    assert progress.watermark == 1940.0


def test_slowest_is_the_lowest_high_mark_behind() -> None:
    progress = Progress(
        {
            "calls/0": SourceMark(500.0, 8, 80),
            "calls/1": SourceMark(300.0, 8, 8),  # caught up: not behind
            "calls/2": SourceMark(None, 0, 9),  # behind, nothing routed: no mark to compare
            "calls/3": SourceMark(700.0, 1, 9),
        }
    )
    assert slowest(progress) == 500.0
    assert slowest(Progress()) is None


def test_the_progress_families_read_the_partitions_and_can_be_asked_for_by_name() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from stream.export.metrics import ProgressCollector
    from tests.pipeline_harness import Harness, call

    h = Harness()
    h.feed(h.publish([call("q1", "call.queued", 300, "c1", queue="billing")]))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProgressCollector(ReadView(h.pipeline), lambda: 2))
    p = "contact_centre_"
    marks = [ps.progress.watermark for ps in h.pipeline.agg_parts.values()]
    assert registry.get_sample_value(p + "watermark_timestamp_seconds") == min(
        m for m in marks if m is not None
    )
    assert registry.get_sample_value(p + "source_partitions_behind") == 0
    assert registry.get_sample_value(p + "source_partitions_paused") == 2
    assert registry.get_sample_value(p + "windows_open") == 3  # 15m, 1h, today of billing
    only = registry.restricted_registry([p + "watermark_timestamp_seconds"])
    text = generate_latest(only).decode()
    assert f"{p}watermark_timestamp_seconds " in text and "windows_open" not in text
