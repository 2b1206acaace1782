"""stream.store.ownership: the partitions a worker holds follow Faust's rebalance hooks, in the
order
Faust calls them (assignment agreed, then recovery completed), and nothing is decoded again that
did not change; the numbers stay those of a worker that never rebalanced."""

from __future__ import annotations

from stream.store.ownership import Ownership
from tests.pipeline_harness import PARTITIONS, Harness
from tests.pipeline_scenario import SCENARIO


def recovered(h: Harness, own: Ownership, actives: set[int], changed: set[int]) -> set[int]:
    return own.recovered(actives, h.route_store.items(), h.agg_store.items(), changed)


def started(h: Harness) -> Ownership:
    """A worker whose first assignment (every partition) was recovered."""
    h.pipeline = h.new_pipeline()
    own = Ownership(h.pipeline)
    assert recovered(h, own, set(PARTITIONS), changed=set(PARTITIONS)) == PARTITIONS
    return own


def test_a_revoked_partition_is_dropped_at_the_assignment_and_loaded_once_when_it_returns() -> None:
    """Revoke then assign back the same partition within one rebalance (Faust's
    RebalanceAgain: two assignments, one recovery): partition 1 is dropped at the first
    assignment, loaded exactly once at the recovery; partition 0, kept, is never loaded again
    and keeps its very state objects."""
    reference = Harness()
    reference.run(SCENARIO)
    h = Harness()
    h.run(SCENARIO[:20])
    own = started(h)
    assert own.loads == {0: 1, 1: 1}
    kept = h.pipeline.agg_parts[0]

    assert own.assigned({0}) == {1}
    assert set(h.pipeline.agg_parts) == {0} and set(h.pipeline.router_parts) == {0}
    assert own.assigned({0, 1}) == set()  # the next generation gives it back
    assert recovered(h, own, {0, 1}, changed=set()) == {1}
    assert own.loads == {0: 1, 1: 2}
    assert h.pipeline.agg_parts[0] is kept

    h.run(SCENARIO[20:])
    assert h.samples() == reference.samples()


def test_a_rebalance_that_moves_nothing_loads_nothing() -> None:
    h = Harness()
    h.run(SCENARIO[:20])
    own = started(h)
    parts = dict(h.pipeline.agg_parts)
    assert own.assigned(set(PARTITIONS)) == set()
    assert recovered(h, own, set(PARTITIONS), changed=set()) == set()
    assert own.loads == {0: 1, 1: 1}
    assert all(h.pipeline.agg_parts[p] is parts[p] for p in PARTITIONS)


def test_a_kept_partition_another_writer_changed_is_loaded_again() -> None:
    """Changelog records of partition 1 were applied during recovery (a zombie's writes): its
    state is rebuilt from the table; partition 0's is kept."""
    reference = Harness()
    reference.run(SCENARIO)
    h = Harness()
    h.run(SCENARIO[:20])
    own = started(h)
    kept = h.pipeline.agg_parts[0]
    assert recovered(h, own, set(PARTITIONS), changed={1, 5}) == {1}  # 5: a standby's
    assert own.loads == {0: 1, 1: 2}
    assert h.pipeline.agg_parts[0] is kept
    h.run(SCENARIO[20:])
    assert h.samples() == reference.samples()


def test_losing_every_partition_exports_nothing_and_taking_them_back_is_exact() -> None:
    reference = Harness()
    reference.run(SCENARIO)
    h = Harness()
    h.run(SCENARIO[:20])
    own = started(h)
    assert own.assigned(set()) == PARTITIONS
    assert recovered(h, own, set(), changed=set()) == set()
    assert h.pipeline.agg_parts == {}
    assert recovered(h, own, set(PARTITIONS), changed=set()) == PARTITIONS
    assert own.loads == {0: 2, 1: 2} and own.recoveries == 3
    h.run(SCENARIO[20:])
    assert h.samples() == reference.samples()
