"""The partitions' stored state through the in-memory pipeline: loading from the tables after a
restart or a rebalance gives the same state and metrics; record keys name partition and kind.
"""

from __future__ import annotations

from stream.stages.route import Route, open_route
from stream.store import records
from tests.pipeline_harness import (
    PARTITIONS,
    T0,
    Harness,
    input_partition,
    sample,
    status,
    ticket,
)
from tests.pipeline_scenario import (
    SCENARIO,
    contract_samples,
)

# --- recovery ------------------------------------------------------------------------------------


def test_load_from_the_table_gives_identical_state_and_metrics() -> None:
    h = Harness()
    h.run(SCENARIO)
    before = h.samples()
    old = h.pipeline
    h.restart()
    assert h.samples() == before
    for p in PARTITIONS:
        new_ps, old_ps = h.pipeline.agg_parts[p], old.agg_parts[p]
        assert new_ps.queues == old_ps.queues
        assert new_ps.contacts == old_ps.contacts
        for name, live in new_ps.live.items():
            other = old_ps.live[name]
            assert (live.waiting, live.awaiting) == (other.waiting, other.awaiting)
            assert {k: v for k, v in live.backlog.items() if v} == {
                k: v for k, v in other.backlog.items() if v
            }
        assert h.pipeline.router_parts[p].routes == old.router_parts[p].routes
        assert h.pipeline.router_parts[p].stats == old.router_parts[p].stats


def test_counters_continue_after_a_restart() -> None:
    reference = Harness()
    reference.run(SCENARIO)
    h = Harness()
    h.run(SCENARIO[:20])
    h.restart()
    h.run(SCENARIO[20:])
    assert h.samples() == reference.samples()


def test_a_worker_exports_only_the_partitions_it_loaded() -> None:
    h = Harness()
    h.run(SCENARIO)
    everything = h.samples()
    h.restart({0})
    billing_only = h.samples()
    # the queues of partition 1 leave with it; router counters of partition 1 too
    assert not any(("queue", "support") in labels for _, labels in billing_only)
    assert {k: v for k, v in everything.items() if ("queue", "billing") in k[1]} == {
        k: v for k, v in billing_only.items() if ("queue", "billing") in k[1]
    }
    h.pipeline.revoke({0})
    assert h.pipeline.agg_parts == {} and h.pipeline.router_parts == {}
    assert contract_samples(h) == (
        sample("events_duplicate_total", 0) | sample("events_late_total", 0)
    )


def test_record_keys_name_their_partition_and_kind() -> None:
    h = Harness()
    h.run(SCENARIO)
    kinds = {records.split_key(k)[1][0] for k in h.table}
    # h: an event of an agent's history (a1 names no queues: no "o" record, no "e" events),
    # d: a customer's event memory, u/k: its churns, the partition's churn counts
    # (stream.core.kpis.customers), w: the sources' progress and the watermark
    # (stream.core.progress)
    assert kinds == {"q", "c", "t", "r", "s", "d", "h", "u", "k", "w"}
    assert {records.split_key(k) for k in h.table if b"|q|" in k} == {
        (0, "q|billing"),
        (1, "q|support"),
    }
    route = records.decode("r|c:c1", h.table[records.key(input_partition(b"c1"), "r|c:c1")])
    assert route == Route("billing", "phone", finished_at=T0 + 230)


def test_recovered_open_routes_are_shared_and_finished_ones_kept() -> None:
    h = Harness()
    h.run([
        ticket("e1", "ticket.created", 0, "t1", queue="support", channel="email"),
        ticket("e2", "ticket.created", 1, "t2", queue="support", channel="email"),
        ticket("e3", "ticket.created", 2, "t3", queue="support", channel="email"),
        status("e4", 5, "t3", "closed"),
    ])  # fmt: skip
    h.restart()
    routes = {k: r for p in h.pipeline.router_parts.values() for k, r in p.routes.items()}
    assert routes["t:t1"] is routes["t:t2"] is open_route("support", "email")
    assert routes["t:t3"] == Route("support", "email", finished_at=T0 + 5)


def test_a_rebalance_keeps_the_state_of_partitions_still_owned_and_loads_the_new_ones() -> None:
    """``Pipeline.load(..., keep=...)``: a partition this worker kept through a rebalance (and
    nobody else wrote to) keeps its state objects; the others are rebuilt from the tables, and
    the numbers go on exactly as without the rebalance."""
    reference = Harness()
    reference.run(SCENARIO)
    h = Harness()
    h.run(SCENARIO[:20])
    router_0, agg_0, agg_1 = (
        h.pipeline.router_parts[0],
        h.pipeline.agg_parts[0],
        h.pipeline.agg_parts[1],
    )
    h.pipeline.load(set(PARTITIONS), h.route_store.items(), h.agg_store.items(), keep={0})
    assert h.pipeline.router_parts[0] is router_0 and h.pipeline.agg_parts[0] is agg_0
    assert h.pipeline.agg_parts[1] is not agg_1
    h.run(SCENARIO[20:])
    assert h.samples() == reference.samples()


def test_keeping_a_partition_not_loaded_yet_loads_it() -> None:
    """A taken-over partition is new to the pipeline: ``keep`` cannot skip loading it."""
    h = Harness()
    h.run(SCENARIO)
    before = h.samples()
    h.restart({0})
    h.pipeline.load(set(PARTITIONS), h.route_store.items(), h.agg_store.items(), keep=PARTITIONS)
    assert h.samples() == before
