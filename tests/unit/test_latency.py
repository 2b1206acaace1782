"""Publish → booked latency (``stream.core.latency``): each item observed once, on the wall clock,
from its source record's timestamp; items without one are left out, a clock behind counts 0."""

from __future__ import annotations

from stream.contract.events import CallQueued
from stream.core.kpis.histogram import Histogram, cumulative
from stream.core.latency import LATENCY_BOUNDS, observe_booked
from stream.stages.forward import Item, decode_batch, encode_batch, encode_version_2, item
from tests.factories import CallEvents

EV = CallEvents(1_795_305_600.0)
QUEUED = EV(CallQueued, 0, queue="billing")


def at(published_ms: int | None) -> Item:
    return Item("billing", "phone", "calls", 0, 7, b"c1", QUEUED, None, published_ms)


def test_each_item_is_observed_from_its_record_timestamp() -> None:
    hist = Histogram()
    now = 1_795_305_600.0
    items = [at(1_795_305_599_880), at(1_795_305_599_000), at(None), at(1_795_305_600_500)]
    observe_booked(hist, items, now)
    # 120 ms, 1 s, (no timestamp: left out), a producer's clock 500 ms ahead: 0
    assert hist.count == 3
    assert abs(hist.total - 1.12) < 1e-9
    buckets = dict(cumulative(hist, LATENCY_BOUNDS))
    assert (buckets[0.005], buckets[0.1], buckets[0.15], buckets[1.0]) == (1, 1, 2, 3)


def test_the_record_timestamp_travels_on_the_internal_topic() -> None:
    sent = item("billing", "phone", "calls", 0, 7, b"c1", QUEUED, b"{}", 1_795_305_599_880)
    (got,) = decode_batch(encode_batch([sent])).items
    assert got.published_ms == 1_795_305_599_880


def test_an_item_from_before_the_timestamp_travelled_reads_as_none() -> None:
    """A version-2 item of eight elements (written before the timestamp was added)."""
    import msgspec

    for payload, where in ((encode_version_2("billing", [at(1)]), 2), (encode_batch([at(1)]), 1)):
        current = msgspec.msgpack.decode(payload)
        current[where][0] = current[where][0][:8]  # drop the trailing timestamp
        (got,) = decode_batch(msgspec.msgpack.encode(current)).items
        assert got.published_ms is None and got.event is not None
        assert msgspec.structs.asdict(got.event) == msgspec.structs.asdict(QUEUED)
