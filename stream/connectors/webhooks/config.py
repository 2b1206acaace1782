"""The gateway's YAML config file: listening address, limits, the generic route's token, sources.

::

    host: 127.0.0.1            # default; anything else must be set here or with --host
    port: 8090
    max_body_bytes: 1048576    # larger bodies: 413
    body_timeout_seconds: 10   # a body not fully read by then: 408
    hold_seconds: 2.0          # how long an event waits for its contact's creation
    settle_seconds: 0.02       # deliveries of one contact this close together are sorted
    generic:                   # POST /v1/events
      token_file: /run/secrets/ingest-token   # or token_env: NAME, or unsigned: true
    sources:                   # POST /webhooks/<name>
      chatwoot:
        kind: chatwoot         # default: the name
        secret_file: /run/secrets/chatwoot    # or secret_env: NAME, or unsigned: true
        ...                    # the source's own keys (docs/connectors/<kind>.md)

Every error names the file, the line and the key path (``GatewayConfigError``; the YAML is read with
``stream.config.yaml_lines.plain``: plain values and the line of every key path). A secret is
read from its file or variable here, wrapped in ``Secret``, and never appears in an error or a
log. The config holds no secret itself: a key named ``secret`` or ``token`` is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from stream.config.secrets import Secret
from stream.config.yaml_lines import compose, plain, read_text
from stream.connectors.webhooks.source import GatewayConfigError, SourceConfig

_TOP: Final = (
    "host", "port", "max_body_bytes", "body_timeout_seconds", "hold_seconds", "settle_seconds",
    "generic", "sources",
)  # fmt: skip
_SECRET_KEYS: Final = ("secret_file", "secret_env", "unsigned")
_TOKEN_KEYS: Final = ("token_file", "token_env", "unsigned")


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway needs besides the broker settings."""

    host: str = "127.0.0.1"
    port: int = 8090
    max_body_bytes: int = 1024 * 1024
    body_timeout_seconds: float = 10.0
    hold_seconds: float = 2.0
    settle_seconds: float = 0.02
    generic_token: Secret | None = None
    generic_enabled: bool = True
    """False when the config has no ``generic:`` key and no token was given another way."""
    sources: tuple[SourceConfig, ...] = field(default_factory=tuple)
    path: str = "<defaults>"


def load_gateway_config(path: str | os.PathLike[str] | None) -> GatewayConfig:
    """The config of the YAML file at ``path`` (``None``: the defaults, no source, no generic
    route). Raises ``GatewayConfigError``."""
    if path is None:
        return GatewayConfig(generic_enabled=False)
    name = os.fspath(path)
    text = read_text(name, "gateway config", GatewayConfigError)
    return parse_gateway_config(text, source=name, env=os.environ)


def parse_gateway_config(
    text: str, *, source: str = "<string>", env: Mapping[str, str] | None = None
) -> GatewayConfig:
    """The config of YAML ``text``; ``env`` is where ``*_env`` keys are looked up."""
    env = os.environ if env is None else env
    root = compose(text, source, GatewayConfigError)
    doc, lines = plain(root)
    if doc is None:
        doc = {}
    reader = _Reader(source, lines)
    if not isinstance(doc, dict):
        raise reader.error("", "expected a mapping at the top")
    reader.only(doc, "", _TOP)
    generic = doc.get("generic")
    token: Secret | None = None
    if generic is not None:
        if not isinstance(generic, dict):
            raise reader.error("generic", "expected a mapping (token_file, token_env, unsigned)")
        reader.only(generic, "generic", _TOKEN_KEYS)
        token = reader.secret(generic, "generic", "token", env)
    sources: list[SourceConfig] = []
    raw_sources = doc.get("sources") or {}
    if not isinstance(raw_sources, dict):
        raise reader.error("sources", "expected a mapping of route names to sources")
    for name, entry in raw_sources.items():
        where = f"sources.{name}"
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise reader.error(where, "a route name is letters, digits, '-' and '_'")
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            raise reader.error(where, "expected a mapping")
        for key in ("secret", "token"):
            if key in entry:
                raise reader.error(f"{where}.{key}", "put the secret in a file (secret_file) "
                                   "or a variable (secret_env), not in the config")  # fmt: skip
        kind = entry.get("kind", name)
        if not isinstance(kind, str):
            raise reader.error(f"{where}.kind", "expected a name")
        secret = reader.secret(entry, where, "secret", env)
        options = {k: v for k, v in entry.items() if k not in ("kind", *_SECRET_KEYS)}
        own = {
            k[len(where) + 1 :] if k != where else "": v
            for k, v in lines.items()
            if k == where or k.startswith(where + ".")
        }
        sources.append(SourceConfig(name, kind, secret, options, source, own))
    return GatewayConfig(
        host=reader.text(doc, "host", "127.0.0.1"),
        port=int(reader.number(doc, "port", 8090, minimum=0, integer=True)),
        max_body_bytes=int(
            reader.number(doc, "max_body_bytes", 1024 * 1024, minimum=1, integer=True)
        ),
        body_timeout_seconds=reader.number(doc, "body_timeout_seconds", 10.0, minimum=0.001),
        hold_seconds=reader.number(doc, "hold_seconds", 2.0),
        settle_seconds=reader.number(doc, "settle_seconds", 0.02),
        generic_token=token,
        generic_enabled=generic is not None,
        sources=tuple(sources),
        path=source,
    )


class _Reader:
    def __init__(self, source: str, lines: Mapping[str, int]) -> None:
        self.source = source
        self.lines = lines

    def error(self, path: str, problem: str) -> GatewayConfigError:
        line = self.lines.get(path)
        where = f"{self.source}:{line}" if line is not None else self.source
        return GatewayConfigError(
            f"{where}: {path or '(top)'}: {problem}", path=self.source, line=line
        )

    def only(self, doc: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
        for key in doc:
            if key not in allowed:
                path = f"{where}.{key}" if where else str(key)
                raise self.error(path, f"unknown key (expected one of {', '.join(allowed)})")

    def text(self, doc: Mapping[str, Any], key: str, default: str) -> str:
        value = doc.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(key, f"expected a text, got {value!r}")
        return value

    def number(
        self,
        doc: Mapping[str, Any],
        key: str,
        default: float,
        *,
        minimum: float = 0.0,
        integer: bool = False,
    ) -> float:
        value: Any = doc.get(key, default)
        ok = isinstance(value, int) or (not integer and isinstance(value, float))
        if isinstance(value, bool) or not ok or value < minimum:
            what = "an integer" if integer else "a number"
            raise self.error(key, f"expected {what} >= {minimum:g}, got {value!r}")
        return float(value)

    def secret(
        self, entry: Mapping[str, Any], where: str, what: str, env: Mapping[str, str]
    ) -> Secret | None:
        """The secret of an entry: ``<what>_file``, ``<what>_env``, or None with unsigned."""
        file_key, env_key = f"{what}_file", f"{what}_env"
        given = [k for k in (file_key, env_key) if entry.get(k) is not None]
        unsigned = entry.get("unsigned", False)
        if not isinstance(unsigned, bool):
            raise self.error(f"{where}.unsigned", "expected true or false")
        if unsigned:
            if given:
                raise self.error(f"{where}.unsigned", f"unsigned with {given[0]}: choose one")
            return None
        if len(given) != 1:
            raise self.error(where, f"set exactly one of {file_key}, {env_key} "
                             "(or unsigned: true, loopback only)")  # fmt: skip
        key = given[0]
        ref = entry[key]
        if not isinstance(ref, str) or not ref:
            raise self.error(f"{where}.{key}", "expected a file name or a variable name")
        if key == env_key:
            value = env.get(ref)
            if not value:
                raise self.error(f"{where}.{key}", f"the variable {ref} is not set or empty")
        else:
            try:
                with open(ref, encoding="utf-8") as file:
                    value = file.read().strip()
            except (OSError, UnicodeDecodeError) as exc:
                problem = getattr(exc, "strerror", None) or type(exc).__name__
                raise self.error(f"{where}.{key}", f"cannot read {ref}: {problem}") from None
            if not value:
                raise self.error(f"{where}.{key}", f"{ref} is empty")
        return Secret(value)
