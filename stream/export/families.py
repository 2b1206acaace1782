"""The one table of exported metric families: every ``contact_centre_*`` family, in exposition
order, each with its name, type, labels, help and the read-view field its samples come from.

``stream.export.metrics`` generates the Prometheus families from these rows (no family is written by
hand anywhere else); the README metric table documents each of them (a unit test holds the two
together). The rows live by subject:

* ``stream.export.totals``: all-time counters and histograms per channel of every known queue;
* ``stream.export.live``: live gauges, EWT and staffing estimates, callbacks waiting;
* ``stream.export.windows``: current-window ratios and counts, productivity, call flows;
* ``stream.export.workers``: customers, the stages' counters, progress, snapshot errors.
"""

from __future__ import annotations

from typing import Any, Final

from stream.export.family import PREFIX, Family
from stream.export.live import ESTIMATE_FAMILIES, FLOW_LIVE_FAMILIES, LIVE_FAMILIES
from stream.export.totals import TOTALS_FAMILIES
from stream.export.windows import FLOW_WINDOW_FAMILIES, PRODUCTIVITY_FAMILIES, WINDOW_FAMILIES
from stream.export.workers import (
    CUSTOMER_FAMILIES,
    PIPELINE_FAMILIES,
    PROGRESS_FAMILIES,
    SNAPSHOT_FAMILIES,
)
from stream.read import WorkerAt

__all__ = [
    "ALL_FAMILIES",
    "KPI_FAMILIES",
    "PIPELINE_FAMILIES",
    "PREFIX",
    "PROGRESS_FAMILIES",
    "SNAPSHOT_FAMILIES",
    "Family",
]

KPI_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    *TOTALS_FAMILIES,
    *LIVE_FAMILIES,
    *WINDOW_FAMILIES,
    *CUSTOMER_FAMILIES,
    *PRODUCTIVITY_FAMILIES,
    *ESTIMATE_FAMILIES,
    *FLOW_LIVE_FAMILIES,
    *FLOW_WINDOW_FAMILIES,
)
"""Read from the queues and customers of the partitions here at the scrape clock."""

ALL_FAMILIES: Final[tuple[Family[Any], ...]] = (
    *KPI_FAMILIES,
    *PIPELINE_FAMILIES,
    *PROGRESS_FAMILIES,
    *SNAPSHOT_FAMILIES,
)
"""Every family a worker can export (snapshot errors only when it publishes snapshots)."""
