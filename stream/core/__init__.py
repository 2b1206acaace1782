"""The pure core: windows, the contact lifecycle, dedup, the KPI math, segments, event-time
progress, admission, thresholds and latency; no framework, no I/O."""
