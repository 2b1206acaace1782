"""A connector's own metrics: every family present, the vendor's event kinds bounded."""

from __future__ import annotations

from stream.connectors.metrics import MAX_KINDS, ConnectorMetrics
from tests.integration.harness import parse, value


def test_ignored_kinds_beyond_the_bound_count_as_other() -> None:
    m = ConnectorMetrics("asterisk")
    for i in range(MAX_KINDS + 10):
        m.ignored(f"EVENT{i}")
    m.ignored("EVENT0")
    samples = parse(m.render().decode())
    ignored = "contact_centre_connector_ignored_total"
    kinds = {dict(labels)["kind"] for name, labels in samples if name == ignored}
    assert len(kinds) == MAX_KINDS + 1
    assert value(samples, ignored, connector="asterisk", kind="other") == 10
    assert value(samples, ignored, connector="asterisk", kind="EVENT0") == 2


def test_counters_and_gauges_of_one_connector() -> None:
    m = ConnectorMetrics("twilio")
    m.received(3)
    m.translated("call.queued", 2)
    m.rejected("bad_signature")
    m.published(0.004)
    m.checkpoint_lag(120)
    s = parse(m.render().decode())
    c = {"connector": "twilio"}
    assert value(s, "contact_centre_connector_received_total", **c) == 3
    assert value(s, "contact_centre_connector_translated_total", type="call.queued", **c) == 2
    assert value(s, "contact_centre_connector_rejected_total", reason="bad_signature", **c) == 1
    assert value(s, "contact_centre_connector_publish_seconds_bucket", le="0.005", **c) == 1
    assert value(s, "contact_centre_connector_publish_seconds_bucket", le="0.0025", **c) == 0
    assert value(s, "contact_centre_connector_checkpoint_lag_bytes", **c) == 120
    assert value(s, "contact_centre_connector_publish_failures_total", **c) == 0
