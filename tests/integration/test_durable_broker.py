"""The durable embedded broker: stopped or killed and started again, it has lost nothing.

`EmbeddedBroker(data_dir=...)` runs Tansu's S3 engine against `stream.dev.object_store`, which
keeps the objects as files. Each restart here is real: SIGTERM (``stop``) or SIGKILL of the
broker *and* its object store, then both started again on the same directory. What must be
there afterwards: every record at its offset with its key and value, every committed
consumer-group offset, the partition counts, offsets continuing (no offset is written twice),
and a worker that lived through the restart ends with exactly the samples of an app that read
the same topics without it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from stream.broker import create_topics
from stream.dev.broker import EmbeddedBroker
from stream.dev.object_store import ObjectStoreServer
from stream.dev.processes import find_free_port
from tests.integration.conftest import INPUT_TOPICS, WorkerFactory
from tests.integration.harness import accounted, publish, value, wait_until
from tests.integration.test_restart import calls

pytestmark = pytest.mark.integration

PARTITIONS = 4
RECORDS = 400
# Offsets committed by a consumer group before the restart, per partition (of 100 each).
COMMITTED = {0: 100, 1: 37, 2: 1, 3: 0}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A durable broker on a fixed port (clients reconnect to it after a restart)."""
    b = EmbeddedBroker(find_free_port(), data_dir=tmp_path / "broker", log_path=tmp_path / "b.log")
    b.start()
    try:
        asyncio.run(create_topics(b.bootstrap, INPUT_TOPICS, PARTITIONS))
        yield b
    finally:
        b.stop()


def restart(broker: EmbeddedBroker, how: str) -> float:
    """Stop (SIGTERM) or kill (SIGKILL, broker and object store) and start again; seconds."""
    started = time.monotonic()
    if how == "sigkill":
        assert broker.pid is not None and broker.object_store_pid is not None
        os.kill(broker.pid, signal.SIGKILL)
        os.kill(broker.object_store_pid, signal.SIGKILL)
    # Tansu lets connected clients go for about 5 s after SIGTERM; after a kill, stop() reaps.
    broker.stop(timeout=15)
    assert not broker.is_running()
    broker.start()
    return time.monotonic() - started


Record = tuple[int, int, bytes | None, bytes | None]  # partition, offset, key, value


async def _produce(bootstrap: str, topic: str) -> list[Record]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for i in range(RECORDS):
            key, body = f"k{i}".encode(), f"record {i}".encode()
            sent.append((key, body, await producer.send(topic, body, key=key, partition=i % 4)))
        out: list[Record] = []
        for key, body, future in sent:
            meta = await future
            out.append((meta.partition, meta.offset, key, body))
        return out
    finally:
        await producer.stop()


async def _commit(bootstrap: str, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in COMMITTED])
        await consumer.commit(
            {TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in COMMITTED.items()}
        )
    finally:
        await consumer.stop()


async def _read_back(
    bootstrap: str, topic: str, group: str
) -> tuple[list[Record], dict[int, int | None], dict[int, int | None]]:
    """Every record from the start, the group's committed offsets, the fetch highwaters."""
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        committed = {tp.partition: await consumer.committed(tp) for tp in tps}
        await consumer.seek_to_beginning(*tps)
        got: list[Record] = []
        deadline = time.monotonic() + 30
        while len(got) < RECORDS and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                got += [(r.partition, r.offset, r.key, r.value) for r in records]
        return sorted(got), committed, {tp.partition: consumer.highwater(tp) for tp in tps}
    finally:
        await consumer.stop()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_records_offsets_and_topics_survive_a_restart(broker: EmbeddedBroker, how: str) -> None:
    topic, group = f"durable-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_topics(broker.bootstrap, [topic], PARTITIONS))
    sent = sorted(asyncio.run(_produce(broker.bootstrap, topic)))
    assert [(p, o) for p, o, _, _ in sent] == [(p, o) for p in range(4) for o in range(100)]
    asyncio.run(_commit(broker.bootstrap, topic, group))
    before = asyncio.run(_read_back(broker.bootstrap, topic, group))
    assert before == (sent, COMMITTED, {p: 100 for p in range(PARTITIONS)})

    seconds = restart(broker, how)
    print(f"broker {how} and start again on its data: {seconds:.3f} s")

    assert asyncio.run(_read_back(broker.bootstrap, topic, group)) == before
    # The topic is still there with its partitions (an existing topic is described, not made).
    asyncio.run(create_topics(broker.bootstrap, [topic], PARTITIONS))
    # New records go after the old ones: no offset is handed out twice.
    more = asyncio.run(_produce(broker.bootstrap, topic))
    assert sorted((p, o) for p, o, _, _ in more) == [
        (p, o) for p in range(4) for o in range(100, 200)
    ]


def test_a_second_object_store_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with ObjectStoreServer(tmp_path / "data"):
        second = subprocess.run(
            [sys.executable, "-m", "stream.dev.object_store", "--root", str(tmp_path / "data"),
             "--port", str(find_free_port())],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    assert second.returncode == 2
    assert "served by another object store" in second.stderr


def _request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_object_store_conditions_ranges_listing_and_files(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with ObjectStoreServer(root, bucket="b") as store:
        base = f"{store.endpoint}/b"
        status, headers, _ = _request(f"{base}/w/m.json", "PUT", b"v1", {"If-None-Match": "*"})
        assert status == 200
        etag1 = headers["ETag"]
        assert _request(f"{base}/w/m.json", "PUT", b"v9", {"If-None-Match": "*"})[0] == 412
        assert _request(f"{base}/w/m.json", "PUT", b"v9", {"If-Match": '"nope"'})[0] == 412
        assert _request(f"{base}/w/none", "PUT", b"v9", {"If-Match": etag1})[0] == 404
        status, headers, _ = _request(f"{base}/w/m.json", "PUT", b"v2", {"If-Match": etag1})
        assert status == 200
        assert headers["ETag"] != etag1
        status, headers, body = _request(f"{base}/w/m.json")
        assert (status, body) == (200, b"v2")
        assert "Last-Modified" in headers
        assert (
            _request(f"{base}/w/m.json", "GET", None, {"If-None-Match": headers["ETag"]})[0] == 304
        )
        assert _request(f"{base}/w/m.json", "GET", None, {"Range": "bytes=1-"})[2] == b"2"
        assert _request(f"{base}/w/m.json", "HEAD")[1]["Content-Length"] == "2"
        assert _request(f"{base}/w/gone")[0] == 404
        assert _request(f"{store.endpoint}/other/x")[0] == 404  # no such bucket
        assert _request(f"{base}/w/m.json/x", "PUT", b"")[0] == 409  # m.json is an object
        assert _request(f"{base}/w/../x", "PUT", b"")[0] == 400
        assert _request(f"{base}/w/odd%20100%25", "PUT", b"odd")[0] == 200  # decoded once
        assert _request(f"{base}/w/odd%20100%25")[2] == b"odd"

        for i in (3, 1, 2):
            assert _request(f"{base}/w/r/{i:04d}.batch", "PUT", b"x" * i)[0] == 200
        status, _, listing = _request(f"{base}?list-type=2&prefix=w/r/&max-keys=2")
        text = listing.decode()
        assert status == 200
        assert "<Key>w/r/0001.batch</Key>" in text and "<Key>w/r/0002.batch</Key>" in text
        assert "<Key>w/r/0003.batch</Key>" not in text
        assert "<IsTruncated>true</IsTruncated>" in text
        token = text.split("<NextContinuationToken>")[1].split("<")[0]
        rest = _request(f"{base}?list-type=2&prefix=w/r/&continuation-token={token}")[2].decode()
        assert "<Key>w/r/0003.batch</Key><LastModified>" in rest
        assert "<Size>3</Size>" in rest and "<IsTruncated>false</IsTruncated>" in rest
        top = _request(f"{base}?list-type=2&prefix=w/&delimiter=/")[2].decode()
        assert "<Key>w/m.json</Key>" in top
        assert "<CommonPrefixes><Prefix>w/r/</Prefix></CommonPrefixes>" in top
        assert "<KeyCount>3</KeyCount>" in top
        assert _request(f"{base}/w/r/0002.batch", "DELETE")[0] == 204
        assert _request(f"{base}/w/r/0002.batch")[0] == 404
    # Objects are plain files, and a new server on the directory serves them again.
    assert (root / "b" / "w" / "m.json").read_bytes() == b"v2"
    assert (root / "b" / "w" / "odd 100%").read_bytes() == b"odd"
    assert sorted(p.name for p in (root / "b" / "w" / "r").iterdir()) == [
        "0001.batch",
        "0003.batch",
    ]
    with ObjectStoreServer(root, bucket="b") as store:
        assert _request(f"{store.endpoint}/b/w/r/0003.batch")[2] == b"xxx"


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_worker_stays_exact_across_a_broker_restart(
    broker: EmbeddedBroker, workers: WorkerFactory, how: str
) -> None:
    w = workers()
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, calls("before", 30))
    wait_until(lambda: accounted(w.scrape()) == n, 60, "the first batch counted")

    # A bigger batch, and the broker goes away while the worker is working through it.
    n += publish(broker.bootstrap, calls("during", 300))
    seconds = restart(broker, how)
    print(f"broker {how} and start again under a running worker: {seconds:.3f} s")

    n += publish(broker.bootstrap, [*calls("during", 30), *calls("after", 30)])
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 120, "the worker to own all partitions")
    wait_until(lambda: accounted(w.scrape()) == n, 120, "everything counted after the restart")
    truth = workers(STREAM_APP_ID=f"{w.env['STREAM_APP_ID']}-truth")
    wait_until(lambda: truth.partitions() == {0, 1, 2, 3}, 90, "the restart-free app ready")
    wait_until(lambda: accounted(truth.scrape()) == n, 120, "a restart-free app to count it all")
    m, t = w.scrape(), truth.scrape()
    assert {k: (m.get(k), t.get(k)) for k in m.keys() | t.keys() if m.get(k) != t.get(k)} == {}
    for q in ("q0", "q1", "q2"):
        labels = {"queue": q, "channel": "phone"}
        assert value(m, "contact_centre_calls_offered_total", **labels) == 120
        assert value(m, "contact_centre_answer_wait_seconds_sum", **labels) == 120 * 30
    assert value(m, "contact_centre_events_duplicate_total") == 60


def _cli_broker(port: int, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream", "broker", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    wait_until(lambda: "broker listening on" in log.read_text(), 60, "the CLI broker to listen")
    return proc


async def _read_all(bootstrap: str, topic: str, n: int) -> list[bytes | None]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got: list[bytes | None] = []
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                got += [r.value for r in records]
        return got
    finally:
        await consumer.stop()


def test_cli_broker_data_dir_and_setting_keep_the_data(tmp_path: Path) -> None:
    port, log, data = find_free_port(), tmp_path / "cli-1.log", tmp_path / "var" / "broker"
    first = _cli_broker(port, log, "--data-dir", str(data))
    try:
        assert f"its data is kept in {data}" in log.read_text()
        publish(f"127.0.0.1:{port}", [("calls", None, b"one"), ("calls", None, b"two")])
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    assert (data / "tansu" / "clusters").is_dir()
    # Started again from the setting instead of the flag: the contract topics and records are there.
    second = _cli_broker(port, tmp_path / "cli-2.log", STREAM_BROKER_DATA_DIR=str(data))
    try:
        got = asyncio.run(_read_all(f"127.0.0.1:{port}", "calls", 2))
        assert sorted(v or b"" for v in got) == [b"one", b"two"]
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
