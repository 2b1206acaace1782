"""The KPI math: one module per KPI family, pure functions and mergeable state, no I/O."""
