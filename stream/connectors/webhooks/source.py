"""What a webhook source is to the gateway, and how the gateway builds one from its YAML config.

A *source* is one vendor route, ``POST /webhooks/<name>``: it checks the vendor's signature
(``verify``: headers and the raw body, with the gateway's clock for timestamp tolerance) and
translates one parsed JSON body into contract events (``translate``: pure, no I/O). The gateway
owns everything else: the body limit and read timeout, JSON parsing, publishing through the
shared ``Publisher`` and answering only after the broker's acknowledgement, the ingest
dead-letter topic and the metrics.

A source module exposes a factory ``build(config: SourceConfig) -> WebhookSource``. The gateway
finds it by the ``kind`` of a ``sources:`` entry: a built-in kind (``BUILTIN``), a kind added
with ``register()``, or ``"package.module:function"``. ``SourceConfig`` carries the entry's own
keys (``options``: plain YAML values), its secret (from ``secret_file`` or ``secret_env``, never
from the YAML text itself, wrapped in ``Secret`` so it is never logged) and the line of every key,
so a factory reports a bad mapping as ``"<file>:<line>: sources.<name>.<key>: <problem>"``
(``SourceConfig.error``, ``SourceConfig.table``).

Headers handed to ``verify`` are case-insensitive (the gateway passes aiohttp's headers); a test
may pass a plain dict with the vendor's own spelling.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from stream.config.errors import ConfigFileError
from stream.config.secrets import Secret

__all__ = [
    "BAD_SIGNATURE",
    "BUILTIN",
    "MISSING_SIGNATURE",
    "OK",
    "STALE_TIMESTAMP",
    "GatewayConfigError",
    "SourceConfig",
    "SourceFactory",
    "Translation",
    "TranslationError",
    "Verdict",
    "WebhookSource",
    "build_source",
    "factory_for",
    "hmac_sha256",
    "register",
    "same",
]


@dataclass(frozen=True)
class Verdict:
    """The result of a signature check."""

    ok: bool
    reason: str = ""
    """``"missing_signature"`` | ``"bad_signature"`` | ``"stale_timestamp"`` when not ok."""
    status: int = 200
    """401 for a missing signature, 403 for a bad or stale one."""


OK: Final = Verdict(True)
MISSING_SIGNATURE: Final = Verdict(False, "missing_signature", 401)
BAD_SIGNATURE: Final = Verdict(False, "bad_signature", 403)
STALE_TIMESTAMP: Final = Verdict(False, "stale_timestamp", 403)


@dataclass(frozen=True)
class Translation:
    """The contract events made from one webhook body."""

    events: list[dict[str, object]]
    """Contract events (``stream.contract.events`` types, as dicts ready to encode); may be
    empty."""
    ignored: str | None = None
    """The vendor's event kind when the body is deliberately not translated (counted)."""


class TranslationError(Exception):
    """A body that cannot be translated: dead-lettered with ``reason`` and answered 400."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@runtime_checkable
class WebhookSource(Protocol):
    """One vendor route of the gateway."""

    name: str
    """The route is ``POST /webhooks/<name>``."""

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verdict: ...

    def translate(self, payload: Any) -> Translation:
        """Contract events of one parsed JSON body; raises ``TranslationError``."""
        ...


def same(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time equality of two signatures (text or bytes)."""
    x = a.encode() if isinstance(a, str) else a
    y = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(x, y)


def hmac_sha256(secret: Secret, message: bytes) -> bytes:
    """The raw HMAC-SHA256 of ``message`` under ``secret`` (hex or base64 it as the vendor does)."""
    return hmac.new(secret.reveal().encode(), message, hashlib.sha256).digest()


# --- configuration ---------------------------------------------------------------------------


class GatewayConfigError(ConfigFileError):
    """The gateway config is invalid: ``"<file>:<line>: <key path>: <problem>"``."""


@dataclass(frozen=True)
class SourceConfig:
    """One ``sources:`` entry of the gateway config, as a factory receives it."""

    name: str
    """The entry's key: the route ``/webhooks/<name>``."""
    kind: str
    """Which factory builds it (defaults to ``name``)."""
    secret: Secret | None = None
    """The signing secret, or None when the entry sets ``unsigned: true``."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The entry's other keys as plain YAML values (not ``kind``, ``secret_*``, ``unsigned``)."""
    path: str = "<config>"
    """The config file, for error messages."""
    lines: Mapping[str, int] = field(default_factory=dict)
    """1-based line of each key, by its dotted path inside the entry (``"mapping.status.open"``)."""

    def line(self, key_path: str) -> int | None:
        """The line of ``key_path`` or of its nearest ancestor that has one."""
        parts = key_path.split(".") if key_path else []
        while parts:
            found = self.lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return self.lines.get("")

    def error(self, key_path: str, problem: str) -> GatewayConfigError:
        """A ``GatewayConfigError`` naming the file, the line of ``key_path`` and the key path."""
        line = self.line(key_path)
        where = f"{self.path}:{line}" if line is not None else self.path
        full = f"sources.{self.name}" + (f".{key_path}" if key_path else "")
        return GatewayConfigError(f"{where}: {full}: {problem}", path=self.path, line=line)

    def table(
        self,
        key_path: str,
        defaults: Mapping[str, str],
        allowed: tuple[str, ...] | None = None,
    ) -> dict[str, str]:
        """The string→string mapping at ``key_path`` over ``defaults``; values must be in
        ``allowed`` when given. Vendor keys may be numbers in YAML (an inbox id): they become
        text. Raises ``GatewayConfigError`` with the offending entry's line."""
        raw: Any = self.options
        for part in key_path.split("."):
            raw = raw.get(part) if isinstance(raw, Mapping) else None
        result = dict(defaults)
        if raw is None:
            return result
        if not isinstance(raw, Mapping):
            raise self.error(key_path, "expected a mapping of names to names")
        for key, value in raw.items():
            where = f"{key_path}.{key}"
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise self.error(where, f"expected a name, got {value!r}")
            text = str(value)
            if allowed is not None and text not in allowed:
                raise self.error(where, f"expected one of {', '.join(allowed)}, got {text!r}")
            result[str(key)] = text
        return result

    def number(self, key_path: str, default: float, *, minimum: float = 0.0) -> float:
        """The number at ``key_path`` (``default`` when absent), at least ``minimum``."""
        raw: Any = self.options
        for part in key_path.split("."):
            raw = raw.get(part) if isinstance(raw, Mapping) else None
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < minimum:
            raise self.error(key_path, f"expected a number >= {minimum:g}, got {raw!r}")
        return float(raw)


SourceFactory = Callable[[SourceConfig], WebhookSource]

BUILTIN: Final[dict[str, str]] = {
    "chatwoot": "stream.connectors.webhooks.chatwoot:build",
    "zendesk": "stream.connectors.webhooks.zendesk:build",
    "zammad": "stream.connectors.webhooks.zammad:build",
}
"""Built-in kinds: ``module:function`` of each factory, imported when a config uses the kind."""

_registered: dict[str, SourceFactory] = {}


def register(kind: str, factory: SourceFactory) -> None:
    """Make ``kind`` build sources with ``factory`` (a plug-in or a test source)."""
    _registered[kind] = factory


def factory_for(kind: str) -> SourceFactory:
    """The factory of ``kind``; raises ``LookupError`` naming the known kinds."""
    if kind in _registered:
        return _registered[kind]
    target = BUILTIN.get(kind, kind if ":" in kind else None)
    if target is None:
        known = ", ".join(sorted({*BUILTIN, *_registered}))
        raise LookupError(f"unknown source kind {kind!r} (known: {known}, or module:function)")
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"source kind {kind!r}: cannot import {module_name}: {exc}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise LookupError(f"source kind {kind!r}: {target} is not a factory")
    built: SourceFactory = factory
    return built


def build_source(config: SourceConfig) -> WebhookSource:
    """Build the source of one config entry; a bad kind is a ``GatewayConfigError`` at ``kind``."""
    try:
        factory = factory_for(config.kind)
    except LookupError as exc:
        raise config.error("kind", str(exc)) from None
    source = factory(config)
    if not isinstance(source, WebhookSource):
        raise config.error("kind", f"{config.kind!r} did not build a webhook source")
    return source
