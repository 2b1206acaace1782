"""The pure core imports no framework and nothing above it (docs/architecture.md, "Layout").

Read from the source (``ast``): the core modules — the KPI math, windows, the contact lifecycle,
dedup, segments, event-time progress, admission, thresholds and the publish → booked latency —
import only the standard library, msgspec and zstandard, the contract and each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = sorted((ROOT / "stream" / "core").rglob("*.py"))
CORE_MODULES = {
    "stream." + ".".join(p.relative_to(ROOT / "stream").with_suffix("").parts) for p in CORE
} | {"stream.core", "stream.core.kpis"}
CONTRACT = {"stream.contract.events", "stream.contract.decoder"}
THIRD_PARTY_ALLOWED = {"msgspec", "zstandard"}
FRAMEWORKS = {"faust", "mode", "aiokafka", "redis", "aiohttp", "prometheus_client", "yaml"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_the_core_imports_no_framework_and_nothing_above_it() -> None:
    assert len(CORE) > 20  # the kpis package and the modules named above
    bad: dict[str, list[str]] = {}
    for path in CORE:
        for name in sorted(imports(path)):
            top = name.split(".")[0]
            if top == "stream":
                ok = name in CORE_MODULES | CONTRACT
            else:
                ok = top not in FRAMEWORKS and (top in THIRD_PARTY_ALLOWED or _stdlib(top))
            if not ok:
                bad.setdefault(str(path.relative_to(ROOT)), []).append(name)
    assert bad == {}


def _stdlib(top: str) -> bool:
    import sys

    return top in sys.stdlib_module_names or top == "__future__"
