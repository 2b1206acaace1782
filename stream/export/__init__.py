"""The export side: the declared metric families (``stream.export.families``), read from the
read view (``stream.read``); ``stream.export.metrics`` turns them into Prometheus families."""
