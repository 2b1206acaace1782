"""Workers on the production table store, ``STREAM_STORE=rocksdb://`` (rocksdict), as the image,
docker-compose.yml and the Kubernetes example run them.

One worker counts known traffic exactly; stopped, its data directory holds one RocksDB database
per table partition, every key in the database of the partition its key names
(``stream.store.records``) and the changelog offset it holds up to; started again on the same
directory it reads nothing of the changelogs but what is newer than its databases, and counts
the traffic published while it was down exactly; a second worker joins (a rebalance) and the two
sum to the truth; it leaves and comes back on its directory, and reads only the changelog
records written meanwhile. A worker killed (SIGKILL) restarts exact from its databases too.
Before ``stream.store.rocksdb`` the first event crashed the worker: Faust's RocksDB store asserts
a current stream event on every write, and the batch consumer writes without one.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from rocksdict import AccessType, Options, Rdict

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import WorkerProcess, accounted, merged, publish, wait_until
from tests.integration.test_two_workers import assert_truth, split, traffic

pytestmark = pytest.mark.integration

ALL = {0, 1, 2, 3}
ROCKSDB = {"STREAM_STORE": "rocksdb://"}
OFFSET_KEY = b"__faust\0offset__"  # where Faust's RocksDB store keeps a partition's offset
RECOVERED = re.compile(r"rocksdb store (\w+): read (\d+) changelog records at recovery")


def databases(data_dir: Path) -> dict[tuple[str, int], Path]:
    """The worker's RocksDB databases by (table, partition)."""
    found = {}
    for path in data_dir.rglob("*.db"):
        table, _, partition = path.name.removesuffix(".db").rpartition("-")
        found[(table, int(partition))] = path
    return found


def read_database(path: Path) -> tuple[list[bytes], int | None]:
    """The keys of a database (read-only) and the changelog offset it is stored up to."""
    db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        keys = [k for k in db.keys() if isinstance(k, bytes) and k != OFFSET_KEY]  # noqa: SIM118
        offset = db.get(OFFSET_KEY)
        return keys, None if offset is None else int(offset)
    finally:
        db.close()


def last_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The offset of the last record of each partition of ``topic`` (read to the fetch high-water
    mark: the embedded broker's ListOffsets is not trusted, see docs/reliability.md)."""

    async def run() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in sorted(ALL)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            last: dict[int, int] = {}
            idle = 0
            while idle < 3:
                batch = await consumer.getmany(timeout_ms=500)
                idle = 0 if batch else idle + 1
                for tp, recs in batch.items():
                    last[tp.partition] = max(last.get(tp.partition, -1), recs[-1].offset)
            return last
        finally:
            await consumer.stop()

    return asyncio.run(run())


def changelog_reads(w: WorkerProcess) -> list[int]:
    """Changelog records each recovery of each table read, in the order logged."""
    return [int(n) for _, n in RECOVERED.findall(w.log_path.read_text(errors="replace"))]


def test_a_rocksdb_worker_is_exact_across_a_restart_and_a_rebalance(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    a = workers(**ROCKSDB)
    wait_until(lambda: a.partitions() == ALL, 120, "the worker to own every partition")
    n = publish(broker.bootstrap, traffic())
    wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted")
    assert_truth(a.scrape(), rounds=1)
    a.stop()

    dbs = databases(tmp_path / "data-0")
    assert set(dbs) == {(t, p) for t in ("routes", "aggregates") for p in ALL}
    app_id = a.env["STREAM_APP_ID"]
    for table in ("routes", "aggregates"):
        ends = last_offsets(broker.bootstrap, f"{app_id}-{table}-changelog")
        assert set(ends) == ALL
        for partition in sorted(ALL):
            keys, offset = read_database(dbs[(table, partition)])
            assert keys, f"{table} partition {partition} holds records"
            assert all(k.startswith(f"{partition}|".encode()) for k in keys), (table, partition)
            # Stored up to the changelog's last record: a restart has nothing to read.
            assert offset == ends[partition], (table, partition, offset, ends)
    first_reads = changelog_reads(a)

    # Traffic published while no worker runs, then the worker again on the same directory.
    n += publish(broker.bootstrap, traffic(1))
    a.start()
    wait_until(lambda: a.partitions() == ALL, 120, "the restarted worker to own everything")
    wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted after the restart")
    assert_truth(a.scrape(), rounds=2)
    restart_reads = changelog_reads(a)[len(first_reads) :]
    # Both tables recovered from their local databases: no changelog record was newer.
    assert restart_reads == [0, 0], restart_reads

    b = workers(**ROCKSDB)
    wait_until(lambda: split(a, b), 120, "two workers owning disjoint halves of the partitions")
    n += publish(broker.bootstrap, traffic(2))
    wait_until(lambda: accounted(merged(a.scrape(), b.scrape())) == n, 60, "all events counted")
    assert_truth(a.scrape(), b.scrape(), rounds=3)
    # The joining worker had no database: it read its partitions' changelogs.
    assert sum(changelog_reads(b)) > 0

    # It leaves (SIGTERM); the first takes everything and counts more; it comes back on its
    # directory and reads only the changelog records written since it left, not from the start.
    b.stop()
    wait_until(lambda: a.partitions() == ALL, 90, "the first worker to own everything again")
    n += publish(broker.bootstrap, traffic(3))
    wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted by the first")
    assert_truth(a.scrape(), rounds=4)
    before = len(changelog_reads(b))
    b.start()
    wait_until(lambda: split(a, b), 120, "the partitions to be split again")
    tail = sum(changelog_reads(b)[before:])
    owned = b.partitions() or set()
    whole = sum(  # what reading its partitions' changelogs from the start would take
        last + 1
        for table in ("routes", "aggregates")
        for p, last in last_offsets(broker.bootstrap, f"{app_id}-{table}-changelog").items()
        if p in owned
    )
    print(f"rejoined worker read {tail} changelog records; its partitions' changelogs: {whole}")
    assert 0 < tail < whole
    n += publish(broker.bootstrap, traffic(4))
    wait_until(lambda: accounted(merged(a.scrape(), b.scrape())) == n, 60, "all events counted")
    assert_truth(a.scrape(), b.scrape(), rounds=5)


def test_a_killed_rocksdb_worker_restarts_exact_from_its_databases(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    """SIGKILL: no clean stop, no flush. Every write RocksDB took is in its write-ahead log, so
    the restarted worker reads at most the changelog records whose acknowledgement the kill cut
    off (their stored offset had not moved yet), and counts exactly."""
    a = workers(**ROCKSDB)
    wait_until(lambda: a.partitions() == ALL, 120, "the worker to own every partition")
    n = publish(broker.bootstrap, traffic())
    wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted")
    a.kill()
    app_id = a.env["STREAM_APP_ID"]
    whole = sum(
        last + 1
        for table in ("routes", "aggregates")
        for last in last_offsets(broker.bootstrap, f"{app_id}-{table}-changelog").values()
    )
    before = len(changelog_reads(a))
    n += publish(broker.bootstrap, traffic(1))
    a.start()
    wait_until(lambda: a.partitions() == ALL, 120, "the restarted worker to own everything")
    wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted after the restart")
    assert_truth(a.scrape(), rounds=2)
    read = sum(changelog_reads(a)[before:])
    print(f"after SIGKILL the restart read {read} of the {whole} changelog records")
    assert read < whole
