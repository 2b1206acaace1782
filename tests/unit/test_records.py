"""Stored record encoding: contact records and routes as compact msgpack arrays."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from stream.core.kpis.customers import CustomerRecord
from stream.core.lifecycle import CallRecord, TicketRecord
from stream.stages.route import Route
from stream.store import records

ROWS = [
    ("c:c1", CallRecord("billing", "phone", 1.5, phase=1, answered_at=3.0, seen=b"x" * 16)),
    ("t:t1", TicketRecord("support", "email", 2.0, status="pending", category="complaint")),
    ("r|c:c1", Route("billing", "phone", finished_at=9.0)),
    ("r|t:t1", Route("support", "chat")),
]


@pytest.mark.parametrize(("name", "record"), ROWS)
def test_rows_round_trip_and_are_arrays(name: str, record: object) -> None:
    stored = records.encode(record)  # type: ignore[arg-type]
    assert records.decode(name, stored) == record
    fields = [getattr(record, f.name) for f in dataclasses.fields(record)]
    assert msgspec.msgpack.decode(stored) == fields  # no field names stored


@pytest.mark.parametrize(("name", "record"), ROWS)
def test_records_stored_as_maps_still_decode(name: str, record: object) -> None:
    as_map = msgspec.msgpack.encode(record)  # how records were stored before rows
    assert records.decode(name, as_map) == record


def test_a_new_ticket_is_small() -> None:
    ticket = TicketRecord("support", "email", 1795436911.486569, updated_at=1795436911.486569)
    ticket.seen = bytes(16)
    assert len(records.encode(ticket)) <= 64


def test_customers_are_stored_as_arrays_and_older_maps_still_decode() -> None:
    rec = CustomerRecord("u1", ((1.0, b"h" * 8, "billing"),), (), ((2.0, b"o" * 8),))
    stored = records.encode(rec)
    assert msgspec.msgpack.decode(stored)[0] == "u1"  # an array: no field names
    assert records.decode("u|u1", stored) == rec
    assert records.decode_customer(msgspec.msgpack.encode(rec)) == rec  # a map, as before
