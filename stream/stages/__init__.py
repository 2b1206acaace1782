"""The two stages and what passes between them: route (decode once, dedup, contact → queue), the
internal topic's wire format, aggregate (book into per-queue state), the working set of the
partitions here."""
