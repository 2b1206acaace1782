"""The worker's settings and the targets file.

This module owns two things:

* ``Settings``: one frozen value holding every setting of a worker, read from the environment
  variables prefixed ``STREAM_`` (``Settings.from_env()``). Each field's variable is the prefix
  plus the field name in upper case (``web_port`` is ``STREAM_WEB_PORT``). A bad value raises
  ``ConfigError`` naming the variable, the value and what is expected; all bad values are
  reported at once, one per line.
* The targets file (``STREAM_TARGETS_FILE``, YAML): per-queue and per-channel service targets
  (answer target, short-abandon threshold, first-response, resolution and handle-time targets,
  service-level goal, time zone, business hours, holidays) on top of the built-in defaults of
  ``docs/kpis.md``.
  ``load_targets()`` validates it node by node and raises ``TargetsError`` naming the file and
  the line; ``TargetBook.for_queue()`` answers the hot-path question "which targets apply to this
  queue and channel" with one dictionary lookup.

Durations, in the targets file and in the ``*_SECONDS`` variables, are numbers of seconds or
strings such as ``"90s"``, ``"15m"``, ``"24h"``, ``"2d"``, ``"1h30m"`` or ``"50ms"``.

Standard library, PyYAML and the pure ``stream.kpis.business_hours`` only.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import time
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Final, TypeAlias

import yaml

from stream.admission import DEFAULT_MAX_QUEUES
from stream.kpis.business_hours import DAY_SECONDS, WEEKDAYS, BusinessCalendar, Range, parse_ranges
from stream.security import KAFKA_PROTOCOLS, SASL_MECHANISMS, Secret, problems, redact_url
from stream.thresholds import TILE_FIELDS, Threshold

__all__ = [
    "BUILTIN_FIRST_RESPONSE_SECONDS",
    "BUILTIN_TARGETS",
    "CHANNELS",
    "ENV_PREFIX",
    "ENV_VARIABLES",
    "ConfigError",
    "Settings",
    "TargetBook",
    "Targets",
    "TargetsError",
    "load_targets",
    "parse_duration",
    "parse_targets",
    "unknown_variables",
]

ENV_PREFIX: Final = "STREAM_"
FORWARD_FRAMING_BYTES: Final = 64 * 1024
"""Room a forwarded event needs beyond its own bytes: the internal message's framing and the
record batch's headers (``stream.pipeline.ForwardBatch``)."""

# The contract's channels (docs/contract.md). Repeated here rather than imported from events.py so
# that this module stays free of msgspec and of the event model.
CHANNELS: Final[tuple[str, ...]] = ("phone", "chat", "email", "social", "web", "sms")


class ConfigError(ValueError):
    """A setting or the targets file is invalid; the message says where and what is expected.

    ``errors`` holds one message per problem (``str(error)`` is them joined by newlines).
    """

    def __init__(self, errors: str | tuple[str, ...]) -> None:
        self.errors: tuple[str, ...] = (errors,) if isinstance(errors, str) else errors
        super().__init__("\n".join(self.errors))


class TargetsError(ConfigError):
    """The targets file is invalid: ``"<file>:<line>: <key path>: <problem>"``.

    ``path`` is the file as given, ``line`` the 1-based line (``None`` when the problem is not
    on a line, e.g. a missing file).
    """

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------

_UNIT_SECONDS: Final[Mapping[str, float]] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
# "ms" must come before "m" so that "50ms" is not read as "50m" followed by garbage.
_DURATION_PART: Final = r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)"
_DURATION: Final = re.compile(rf"(?:{_DURATION_PART}\s*)+")
_DURATION_PARTS: Final = re.compile(_DURATION_PART)


def parse_duration(value: object) -> float:
    """A duration in seconds from a number or a string like ``"90s"``, ``"1h30m"`` or ``"2d"``.

    Plain numeric strings (``"90"``) are seconds too. Raises ``ValueError`` for anything else,
    including booleans, NaN and infinities. The sign is not checked here.
    """
    seconds: float
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _DURATION.fullmatch(text):
            seconds = sum(
                float(number) * _UNIT_SECONDS[unit]
                for number, unit in _DURATION_PARTS.findall(text)
            )
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(f"not a duration: {value!r}") from None
    else:
        raise ValueError(f"not a duration: {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite duration: {value!r}")
    return seconds


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


class _Invalid(ValueError):
    """A value does not fit a setting; the argument says what the setting expects."""


_Converter: TypeAlias = Callable[[object], object]


def _integer(low: int, high: int | None = None) -> _Converter:
    expected = f"an integer {low}..{high}" if high is not None else f"an integer >= {low}"

    def convert(value: object) -> int:
        if isinstance(value, str):
            text = value.strip()
            if not re.fullmatch(r"[+-]?[0-9]+", text):
                raise _Invalid(expected)
            value = int(text)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(expected)
        if value < low or (high is not None and value > high):
            raise _Invalid(expected)
        return value

    return convert


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise _Invalid("a boolean: 1/0, true/false, yes/no, on/off")


def _seconds(*, zero_allowed: bool) -> _Converter:
    kind = "a non-negative" if zero_allowed else "a positive"
    expected = f"{kind} duration in seconds (e.g. 30, 1.5, '90s', '15m')"

    def convert(value: object) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise _Invalid(expected) from None
        if seconds < 0 or (seconds == 0 and not zero_allowed):
            raise _Invalid(expected)
        return seconds

    return convert


def _text(pattern: str, expected: str) -> _Converter:
    compiled = re.compile(pattern)

    def convert(value: object) -> str:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not compiled.fullmatch(value.strip()):
            raise _Invalid(expected)
        return value.strip()

    return convert


def _optional(convert: _Converter) -> _Converter:
    def optional(value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return convert(value)

    return optional


def _secret(value: object) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise _Invalid("a text (better: the *_FILE variable naming a file holding it)")
    return Secret(value) if value else None


def _choice(*choices: str, aliases: Mapping[str, str] | None = None, upper: bool) -> _Converter:
    expected = "one of " + ", ".join(choices)

    def convert(value: object) -> str:
        if not isinstance(value, str):
            raise _Invalid(expected)
        text = value.strip().upper() if upper else value.strip().lower()
        text = (aliases or {}).get(text, text)
        if text not in choices:
            raise _Invalid(expected)
        return text

    return convert


_BROKER_SCHEME: Final = re.compile(r"kafka://", re.IGNORECASE)
_BROKER_HOST: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?/?")
_BROKER_EXPECTED: Final = (
    "a broker URL kafka://host:port, or a comma-separated list kafka://host1:port,host2:port"
)


def _broker_url(value: object) -> str:
    """Normalise to ``kafka://host:port,host:port`` (port 9092 when omitted)."""
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(_BROKER_EXPECTED)
    addresses = []
    for part in value.split(","):
        address = part.strip()
        scheme = _BROKER_SCHEME.match(address)
        if scheme:
            address = address[scheme.end() :]
        match = _BROKER_HOST.fullmatch(address)
        if match is None:
            raise _Invalid(_BROKER_EXPECTED)
        port = int(match[2]) if match[2] is not None else 9092
        if not 1 <= port <= 65535:
            raise _Invalid(_BROKER_EXPECTED)
        addresses.append(f"{match[1]}:{port}")
    return "kafka://" + ",".join(addresses)


_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_TIMESTAMP_EXPECTED: Final = "an RFC 3339 timestamp with offset, e.g. '2026-11-22T14:03:12Z'"


def _epoch_seconds(value: object) -> float:
    """Epoch seconds from an RFC 3339 timestamp with offset (or from a number of epoch seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise _Invalid(_TIMESTAMP_EXPECTED)
        return float(value)
    if not isinstance(value, str):
        raise _Invalid(_TIMESTAMP_EXPECTED)
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise _Invalid(_TIMESTAMP_EXPECTED)
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    if match[8]:
        offset = timedelta(0)
    else:
        offset = timedelta(hours=int(match[10]), minutes=int(match[11]))
        if match[9] == "-":
            offset = -offset
    try:
        moment = datetime(
            year, month, day, hour, minute, second, tzinfo=timezone(offset)
        ).timestamp()
    except ValueError:  # month 13, second 60, offset of 24 hours or more ...
        raise _Invalid(_TIMESTAMP_EXPECTED) from None
    return moment + float(match[7] or 0)


# Kafka's legal topic names: at most 249 of [a-zA-Z0-9._-] ("." and ".." alone are reserved).
_KAFKA_NAME: Final = r"(?!\.\.?$)[A-Za-z0-9._-]{1,249}"

_CONVERTERS: Final[Mapping[str, _Converter]] = {
    "broker_url": _broker_url,
    "web_port": _integer(1, 65535),
    "web_host": _text(r"[A-Za-z0-9._:%\[\]-]+", "a host name or IP address to listen on"),
    "kafka_security_protocol": _choice(*KAFKA_PROTOCOLS, upper=True),
    "kafka_sasl_mechanism": _choice(*SASL_MECHANISMS, upper=True),
    "kafka_sasl_username": _optional(_text(r".+", "a user name")),
    "kafka_sasl_password": _secret,
    "kafka_sasl_password_file": _optional(_text(r".+", "the path of a file holding the password")),
    "kafka_ssl_cafile": _optional(_text(r".+", "the path of a PEM file of CA certificates")),
    "kafka_ssl_certfile": _optional(_text(r".+", "the path of the client's PEM certificate")),
    "kafka_ssl_keyfile": _optional(_text(r".+", "the path of the client's PEM private key")),
    "kafka_ssl_key_password": _secret,
    "kafka_ssl_key_password_file": _optional(
        _text(r".+", "the path of a file holding the key's pass-phrase")
    ),
    "kafka_ssl_check_hostname": _boolean,
    "redis_url": _optional(
        _text(r"(?:redis|rediss|unix)://\S+", "a Redis URL (redis://, rediss:// or unix://)")
    ),
    "redis_password": _secret,
    "redis_password_file": _optional(_text(r".+", "the path of a file holding the password")),
    "redis_ssl_cafile": _optional(_text(r".+", "the path of a PEM file of CA certificates")),
    "targets_file": _optional(_text(r".+", "the path of a YAML targets file")),
    "wallboard_port": _integer(1, 65535),
    "wallboard_host": _text(r"[A-Za-z0-9._:%\[\]-]+", "a host name or IP address to listen on"),
    "wallboard_stale_seconds": _seconds(zero_allowed=False),
    "wallboard_max_clients": _integer(1, 100_000),
    "wallboard_agents": _integer(0, 200),
    "app_id": _text(_KAFKA_NAME, "1..249 characters of A-Z a-z 0-9 . _ -"),
    "topic_tickets": _text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_calls": _text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_agents": _text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_customers": _text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_dead_letter": _text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_ingest_dead_letter": _text(
        _KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"
    ),
    "topic_windows": _text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "partitions": _integer(1, 10_000),
    "grace_seconds": _seconds(zero_allowed=True),
    "alignment_seconds": _seconds(zero_allowed=True),
    "idle_seconds": _seconds(zero_allowed=False),
    "future_skew_seconds": _seconds(zero_allowed=True),
    "retention_seconds": _seconds(zero_allowed=False),
    "conversion_horizon_seconds": _seconds(zero_allowed=False),
    "max_queues": _integer(1, 1_000_000),
    "ewt_recent_calls": _integer(1, 5_000),
    "max_event_bytes": _integer(1, 100 * 1024 * 1024),
    "producer_max_request_bytes": _integer(1_000_000, 1024 * 1024 * 1024),
    "batch_max": _integer(1, 1_000_000),
    "producer_max_batch_bytes": _integer(1, 64 * 1024 * 1024),
    "batch_consumer": _boolean,
    "fetch_max_wait_ms": _integer(1, 60_000),
    "heap_trim_seconds": _seconds(zero_allowed=True),
    "gc_young_threshold": _integer(0, 10_000_000),
    "batch_within_seconds": _seconds(zero_allowed=False),
    "session_timeout_seconds": _seconds(zero_allowed=False),
    "standby_replicas": _integer(0, 16),
    "store": _text(
        r"(?:memory|rocksdb|rocksdict)://\S*",
        "a Faust store URL: memory://, rocksdb:// or rocksdict://",
    ),
    "data_dir": _text(r".+", "a directory path"),
    "broker_data_dir": _optional(_text(r".+", "a directory path")),
    "frozen_time": _optional(_epoch_seconds),
    "log_level": _choice(
        "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", aliases={"WARN": "WARNING"}, upper=True
    ),
    "log_format": _choice("json", "text", upper=False),
}

_TOPIC_FIELDS: Final = (
    "topic_tickets",
    "topic_calls",
    "topic_agents",
    "topic_customers",
    "topic_dead_letter",
    "topic_ingest_dead_letter",
    "topic_windows",
)


def _variable(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of a worker; ``Settings.from_env()`` reads them from ``STREAM_*`` variables.

    Constructing or ``replace()``-ing validates and normalises too, so a ``Settings`` in hand is
    always valid. Strings are accepted for every field (that is what the environment gives).
    """

    broker_url: str = "kafka://127.0.0.1:9092"
    """Kafka bootstrap brokers, normalised to ``kafka://host:port,host:port``."""
    kafka_security_protocol: str = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (``stream.security`` makes the clients)."""
    kafka_sasl_mechanism: str = "PLAIN"
    """PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL protocol)."""
    kafka_sasl_username: str | None = None
    kafka_sasl_password: Secret | None = None
    """Prefer ``kafka_sasl_password_file``: a variable's value is visible to the process tree."""
    kafka_sasl_password_file: str | None = None
    """File holding the SASL password (its first line), read when a client is made."""
    kafka_ssl_cafile: str | None = None
    """CA certificates (PEM) the broker's certificate is checked against; ``None``: the
    system's."""
    kafka_ssl_certfile: str | None = None
    """Client certificate (PEM) for brokers that authenticate clients by TLS."""
    kafka_ssl_keyfile: str | None = None
    """The client certificate's private key (PEM); ``None``: in ``kafka_ssl_certfile``."""
    kafka_ssl_key_password: Secret | None = None
    kafka_ssl_key_password_file: str | None = None
    """File holding the private key's pass-phrase."""
    kafka_ssl_check_hostname: bool = True
    """Check that the broker's certificate names the host connected to."""
    web_port: int = 6066
    """Port of the worker's web server (``/metrics``)."""
    web_host: str = "127.0.0.1"
    redis_url: str | None = None
    """Where wallboard snapshots are published; ``None``: not published. ``rediss://`` is TLS;
    ``redis://user:password@host:6379/0`` carries a password (better: the file below)."""
    redis_password: Secret | None = None
    redis_password_file: str | None = None
    """File holding the Redis password (its first line); a password in the URL wins."""
    redis_ssl_cafile: str | None = None
    """CA certificates (PEM) the ``rediss://`` server's certificate is checked against."""
    targets_file: str | None = None
    """YAML targets file (see ``load_targets``); ``None``: the built-in targets of kpis.md."""
    wallboard_port: int = 8080
    """Port of the wallboard server (``python -m stream wallboard``)."""
    wallboard_host: str = "127.0.0.1"
    wallboard_stale_seconds: float = 10.0
    """A wallboard tile greys out after this long without a snapshot from its worker."""
    wallboard_max_clients: int = 100
    """Browsers one wallboard process streams to; more get 503 with ``Retry-After``."""
    wallboard_agents: int = 20
    """Agents listed on a queue's wallboard tile (the longest in their state); 0: no list."""
    app_id: str = "contact-centre-kpis"
    """Faust app id: consumer group and prefix of internal topics."""
    topic_tickets: str = "tickets"
    topic_calls: str = "calls"
    topic_agents: str = "agents"
    topic_customers: str = "customers"
    topic_dead_letter: str = "kpi-dead-letter"
    topic_ingest_dead_letter: str = "kpi-ingest-dead-letter"
    """Vendor records a connector could not translate (``stream.connectors.publish``)."""
    topic_windows: str = "kpi-windows"
    """Closed windows are published here once, keyed by ``queue|window|start``."""
    partitions: int = 8
    """Partitions of the internal topic and the table."""
    grace_seconds: float = 60.0
    """Watermark = the event time every source partition has reached minus this
    (``stream.progress``); events for windows it has passed count as late."""
    alignment_seconds: float = 600.0
    """While a backlog is read, a source partition more than this far (event time) ahead of the
    slowest one still behind is paused until that one catches up; ``0`` never pauses."""
    idle_seconds: float = 30.0
    """Quiet time after which a partition's watermark follows the wall clock."""
    future_skew_seconds: float = 300.0
    """Events further ahead of the clock than this are rejected (``timestamp_out_of_range``)."""
    retention_seconds: float = 86400.0
    """How long finished contacts and their event ids are kept for de-duplication."""
    conversion_horizon_seconds: float = 7 * 86400.0
    """An order at most this long after a contact converts it (``stream.kpis.customers``)."""
    max_queues: int = DEFAULT_MAX_QUEUES
    """Queues outside the targets file that get series, split across the ``partitions`` of the
    queue-keyed topic (``stream.admission``); events of further queues are rejected
    (``too_many_queues``). Queues the targets file lists always count."""
    ewt_recent_calls: int = 20
    """N of the ``recent`` EWT method: the mean wait of the last N answered calls of the queue."""
    max_event_bytes: int = 65536
    """Larger messages are rejected (``too_large``) before decoding. At most
    ``producer_max_request_bytes`` less ``FORWARD_FRAMING_BYTES``: an accepted event is forwarded
    whole to the internal topic, and one the producer refused would stop the worker again on
    every restart."""
    producer_max_request_bytes: int = 1_000_000
    """The producer's largest request (Faust's ``producer_max_request_size``; Kafka brokers take
    about 1 MB by default, ``message.max.bytes``). At least 1 MB: dead letters of up to 512 KiB
    must fit."""
    batch_max: int = 10000
    """Most events taken from a stream at once."""
    batch_within_seconds: float = 0.05
    """Longest wait to fill a batch."""
    batch_consumer: bool = True
    """Hand whole fetches of the pipeline's topics to the pipeline (``stream.consumer``);
    ``0`` uses Faust's per-message path instead (slower; kept for comparison)."""
    fetch_max_wait_ms: int = 100
    """Longest wait of a fetch with no new data. Kafka answers as soon as data arrives; the
    embedded Tansu broker waits this long, so it bounds event-to-metric latency there (Faust's
    own value is 1500)."""
    heap_trim_seconds: float = 5.0
    """How often the worker returns freed heap memory to the OS (``stream.heap``); ``0`` never."""
    gc_young_threshold: int = 50_000
    """Allocations between collections of the cyclic garbage collector's youngest generation
    (``stream.heap``; CPython's default is 700); ``0`` keeps Python's own settings."""
    producer_max_batch_bytes: int = 16384
    """Producer batch size limit. Set 1 on the embedded Tansu broker: its memory engine answers
    ListOffsets(latest) with the last batch's base offset + 1, so with multi-record batches Faust
    stops reading a changelog early on recovery. One record per batch keeps the offsets right."""
    session_timeout_seconds: float = 2.0
    """Kafka consumer session timeout: how long a dead worker's partitions stay unowned (Apache
    Kafka refuses values below its brokers' ``group.min.session.timeout.ms``, 6 s by default)."""
    standby_replicas: int = 1
    """Workers that keep following the changelog of each partition they do not own, so a
    takeover reads only its tail (``stream.standby``); ``0``: none."""
    store: str = "memory://"
    """Faust table store URL."""
    data_dir: str = "var/data"
    """Faust's data directory."""
    broker_data_dir: str | None = None
    """Where ``python -m stream broker`` and the demo keep the embedded broker's data (topics,
    records, committed offsets) across its restarts; ``None``: in memory, lost at its stop."""
    frozen_time: float | None = None
    """Epoch seconds at which the worker's clock stands still (tests); ``None``: real clock.

    ``STREAM_FROZEN_TIME`` is an RFC 3339 timestamp with offset."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING, ERROR or CRITICAL."""
    log_format: str = "json"
    """``json`` (one object per line) or ``text``."""

    def __post_init__(self) -> None:
        errors: list[str] = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            try:
                converted = _CONVERTERS[field.name](value)
            except _Invalid as invalid:
                shown = redact_url(value) if isinstance(value, str) else value
                errors.append(f"{_variable(field.name)}={shown!r}: expected {invalid}")
            else:
                # Normalised values (trimmed, upper-cased, parsed) replace the given ones.
                object.__setattr__(self, field.name, converted)
        if not errors and self.max_event_bytes > (
            limit := self.producer_max_request_bytes - FORWARD_FRAMING_BYTES
        ):
            errors.append(
                f"{_variable('max_event_bytes')}={self.max_event_bytes}: expected at most {limit} "
                f"({_variable('producer_max_request_bytes')}={self.producer_max_request_bytes} "
                f"less {FORWARD_FRAMING_BYTES} for the forward's framing): a larger event would "
                "be accepted, then refused by the producer, and stop the worker on every restart"
            )
        if not errors:
            errors.extend(problems(self))
        if not errors:
            # Each input topic must be distinct: the router tells event families by topic.
            seen: dict[str, str] = {}
            for name in _TOPIC_FIELDS:
                topic = getattr(self, name)
                if topic in seen:
                    errors.append(
                        f"{_variable(name)}={topic!r}: expected a topic different from "
                        f"{_variable(seen[topic])}"
                    )
                seen.setdefault(topic, name)
        if errors:
            raise ConfigError(tuple(errors))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``STREAM_*`` variables of ``environ`` (default: ``os.environ``).

        Unset and empty variables take the default (so ``STREAM_REDIS_URL=`` means no Redis).
        Unknown ``STREAM_*`` variables are ignored; see ``unknown_variables``.
        Raises ``ConfigError`` listing every bad value.
        """
        env = os.environ if environ is None else environ
        given: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(_variable(field.name))
            if raw is not None and raw.strip():
                given[field.name] = raw
        return dataclasses.replace(cls(), **given)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (validated like ``from_env``)."""
        return dataclasses.replace(self, **changes)

    @property
    def bootstrap_servers(self) -> str:
        """The brokers as Kafka clients want them: ``host:port,host:port``."""
        return self.broker_url.removeprefix("kafka://")

    @property
    def input_topics(self) -> tuple[str, str, str, str]:
        """The four input topics: tickets, calls, agents, customers."""
        return (self.topic_tickets, self.topic_calls, self.topic_agents, self.topic_customers)

    def clock(self) -> Callable[[], float]:
        """The worker's clock (epoch seconds): frozen at ``frozen_time`` when set."""
        frozen = self.frozen_time
        if frozen is None:
            return time.time
        return lambda: frozen


ENV_VARIABLES: Final[tuple[str, ...]] = tuple(
    _variable(field.name) for field in dataclasses.fields(Settings)
)
"""Every variable ``Settings.from_env`` reads, in field order."""


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """``STREAM_*`` variables that no setting reads (typos, usually), sorted; for warnings."""
    env = os.environ if environ is None else environ
    known = set(ENV_VARIABLES)
    return sorted(name for name in env if name.startswith(ENV_PREFIX) and name not in known)


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------

_HOUR: Final = 3600.0
_DAY: Final = 86400.0

BUILTIN_FIRST_RESPONSE_SECONDS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "phone": 60.0,
        "chat": 60.0,
        "email": 24 * _HOUR,
        "social": 24 * _HOUR,
        "web": 24 * _HOUR,
        # kpis.md names no SMS target. SMS is asynchronous messaging like email and social
        # (the customer does not wait on the line), so it gets their 24 h target.
        "sms": 24 * _HOUR,
    }
)


@dataclass(frozen=True, slots=True)
class Targets:
    """The targets that apply to one queue (and channel); durations in seconds.

    ``first_response_seconds`` is the target of the channel asked for. Asked without a channel
    it is the strictest (smallest) of the queue's per-channel targets, so that a caller that
    forgets the channel errs towards reporting a breach early rather than never.
    """

    answer_target_seconds: float
    """T of the service level: a call answered within T counts as within target."""
    short_abandon_seconds: float
    """Calls abandoned within this are short abandons (left out of the service level)."""
    first_response_seconds: float
    resolution_seconds: float
    handle_time_seconds: float
    service_level_goal: float
    """Alert threshold of the service level, a ratio in (0, 1]."""
    timezone: str
    """IANA time zone of the queue: where its ``today`` window starts."""
    survey_min_sample: int = 1
    """Fewest survey responses a CSAT or NPS score of a window is exported on (counts always)."""

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """``timezone`` as a ``ZoneInfo`` (zoneinfo caches instances)."""
        return zoneinfo.ZoneInfo(self.timezone)


BUILTIN_TARGETS: Final = Targets(
    answer_target_seconds=20.0,
    short_abandon_seconds=5.0,
    first_response_seconds=min(BUILTIN_FIRST_RESPONSE_SECONDS.values()),
    resolution_seconds=2 * _DAY,
    handle_time_seconds=6 * 60.0,
    service_level_goal=0.8,
    timezone="UTC",
)
"""The defaults of kpis.md ("Targets"), for a queue asked about without a channel."""

# One layer of overrides: target name -> value; "first_response_seconds" maps channel -> seconds.
_Layer: TypeAlias = Mapping[str, float | str | Mapping[str, float]]

_DURATION_KEYS: Final = (
    "answer_target_seconds",
    "short_abandon_seconds",
    "first_response_seconds",
    "resolution_seconds",
    "handle_time_seconds",
)
# Business hours and holidays: the business-time variants of first response and resolution.
_CALENDAR_KEYS: Final = ("business_hours", "holidays")
_VALUE_KEYS: Final = (*_DURATION_KEYS, "service_level_goal", "timezone", "survey_min_sample")
_TARGET_KEYS: Final = (*_VALUE_KEYS, *_CALENDAR_KEYS)
# Time zone and service-level goal belong to the queue: its `today` window and its service-level
# gauge are per queue, not per channel.
_CHANNEL_KEYS: Final = _DURATION_KEYS
_QUEUE_KEYS: Final = (  # team: wallboard filter
    *_VALUE_KEYS,
    "channels",
    "team",
    *_CALENDAR_KEYS,
    "wallboard_thresholds",
)
_TOP_KEYS: Final = ("defaults", "queues", "agent_reasons", "wallboard_thresholds")
MAX_AGENT_REASONS: Final = 32
"""At most this many ``agent_reasons``: each is a label value of every queue's agent series."""


def _resolve(layers: tuple[_Layer, ...], channel: str | None) -> Targets:
    """Apply ``layers`` in order on top of the built-in targets."""
    numbers = {
        "answer_target_seconds": BUILTIN_TARGETS.answer_target_seconds,
        "short_abandon_seconds": BUILTIN_TARGETS.short_abandon_seconds,
        "resolution_seconds": BUILTIN_TARGETS.resolution_seconds,
        "handle_time_seconds": BUILTIN_TARGETS.handle_time_seconds,
        "service_level_goal": BUILTIN_TARGETS.service_level_goal,
        "survey_min_sample": float(BUILTIN_TARGETS.survey_min_sample),
    }
    first_response = dict(BUILTIN_FIRST_RESPONSE_SECONDS)
    zone = BUILTIN_TARGETS.timezone
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, Mapping):
                first_response.update(value)
            elif isinstance(value, str):
                zone = value
            else:
                numbers[key] = value
    return Targets(
        answer_target_seconds=numbers["answer_target_seconds"],
        short_abandon_seconds=numbers["short_abandon_seconds"],
        first_response_seconds=(
            first_response[channel] if channel is not None else min(first_response.values())
        ),
        resolution_seconds=numbers["resolution_seconds"],
        handle_time_seconds=numbers["handle_time_seconds"],
        service_level_goal=numbers["service_level_goal"],
        timezone=zone,
        survey_min_sample=int(numbers["survey_min_sample"]),
    )


Weekly: TypeAlias = tuple[tuple[Range, ...], ...]


@dataclass(frozen=True, slots=True)
class _CalendarLayer:
    """Business hours and holidays set at one level; None: not set there (inherited)."""

    weekly: Weekly | None = None
    always_open: bool = False  # `business_hours: 24x7`: open around the clock
    holidays: frozenset[date] | None = None


@dataclass(frozen=True, slots=True)
class _QueueLayers:
    targets: _Layer
    channels: Mapping[str, _Layer]
    team: str | None = None
    calendar: _CalendarLayer = _CalendarLayer()
    thresholds: Mapping[str, Threshold] = dataclasses.field(default_factory=dict)


def _calendar(zone: str, layers: tuple[_CalendarLayer, ...]) -> BusinessCalendar:
    """The business calendar of ``layers`` applied in order (absent hours: 24×7, no holidays)."""
    weekly: Weekly | None = None
    holidays: frozenset[date] = frozenset()
    for layer in layers:
        if layer.always_open:
            weekly = None
        elif layer.weekly is not None:
            weekly = layer.weekly
        if layer.holidays is not None:
            holidays = layer.holidays
    if weekly is not None and all(day == ((0, DAY_SECONDS),) for day in weekly):
        weekly = None  # every day 00:00-24:00 is 24×7: business time is calendar time
    return BusinessCalendar(zoneinfo.ZoneInfo(zone), weekly, holidays)


class TargetBook:
    """Targets by queue and channel: built-in -> file defaults -> queue -> queue's channel.

    Immutable. Every answer is computed once, when the book is built, so ``for_queue`` on the
    hot path is a dictionary lookup. Queues that the file does not name get the (file) defaults
    without being remembered, so arbitrary queue names in events cannot grow the book.
    Build it with ``load_targets``, ``parse_targets`` or ``TargetBook.default()``.
    """

    __slots__ = (
        "_by_default",
        "_by_queue",
        "_calendars",
        "_default_calendar",
        "_default_zone",
        "_queues",
        "_reasons",
        "_source",
        "_teams",
        "_thresholds",
        "_zones",
    )

    def __init__(
        self,
        defaults: _Layer | None = None,
        queues: Mapping[str, _QueueLayers] | None = None,
        *,
        source: str = "<built-in>",
        calendar: _CalendarLayer | None = None,
        agent_reasons: tuple[str, ...] = (),
        thresholds: Mapping[str, Threshold] | None = None,
    ) -> None:
        base: tuple[_Layer, ...] = (defaults,) if defaults else ()
        self._reasons = agent_reasons
        # Wallboard thresholds: "" → the file's, each queue → the file's overridden by its own.
        self._thresholds: dict[str, Mapping[str, Threshold]] = {
            "": MappingProxyType(dict(thresholds or {}))
        }
        for queue, layers in (queues or {}).items():
            self._thresholds[queue] = MappingProxyType({**(thresholds or {}), **layers.thresholds})
        channels: tuple[str | None, ...] = (None, *CHANNELS)
        self._source = source
        self._by_default: dict[str | None, Targets] = {
            channel: _resolve(base, channel) for channel in channels
        }
        self._queues: tuple[str, ...] = tuple(queues or {})
        self._by_queue: dict[tuple[str, str | None], Targets] = {}
        for queue, layers in (queues or {}).items():
            for channel in channels:
                layer = layers.channels.get(channel, {}) if channel is not None else {}
                self._by_queue[queue, channel] = _resolve((*base, layers.targets, layer), channel)
        self._default_zone = zoneinfo.ZoneInfo(self._by_default[None].timezone)
        self._zones = {
            queue: zoneinfo.ZoneInfo(self._by_queue[queue, None].timezone) for queue in self._queues
        }
        self._teams = {
            queue: layers.team for queue, layers in (queues or {}).items() if layers.team
        }
        base_calendar = (calendar,) if calendar is not None else ()
        self._default_calendar = _calendar(self._by_default[None].timezone, base_calendar)
        self._calendars = {
            queue: _calendar(
                self._by_queue[queue, None].timezone, (*base_calendar, layers.calendar)
            )
            for queue, layers in (queues or {}).items()
        }

    @classmethod
    def default(cls) -> TargetBook:
        """The built-in targets of kpis.md for every queue."""
        return cls()

    @property
    def source(self) -> str:
        """Where the book came from: the file path, or ``<built-in>``."""
        return self._source

    def for_queue(self, queue: str, channel: str | None = None) -> Targets:
        """The targets of ``queue`` (and ``channel``: its overrides and first-response target).

        Raises ``ValueError`` for a channel not in ``CHANNELS``.
        """
        targets = self._by_queue.get((queue, channel))
        if targets is None:
            try:
                targets = self._by_default[channel]
            except KeyError:
                raise ValueError(
                    f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}"
                ) from None
        return targets

    def zone(self, queue: str) -> zoneinfo.ZoneInfo:
        """The time zone of ``queue`` (where its ``today`` starts)."""
        return self._zones.get(queue, self._default_zone)

    def calendar(self, queue: str) -> BusinessCalendar:
        """The business hours, holidays and time zone of ``queue`` (business-time KPIs)."""
        return self._calendars.get(queue, self._default_calendar)

    def queues(self) -> list[str]:
        """The queues the targets file names, in file order."""
        return list(self._queues)

    def agent_reasons(self) -> tuple[str, ...]:
        """The away reasons exported as labels (``agent_reasons:``), in file order; any other
        reason is exported as ``other`` (``stream.kpis.reasons``)."""
        return self._reasons

    def team(self, queue: str) -> str | None:
        """The team the targets file gives ``queue`` (the wallboard's ``?team=``), or None."""
        return self._teams.get(queue)

    def thresholds(self, queue: str) -> Mapping[str, Threshold]:
        """Tile field → wallboard colour thresholds of ``queue`` (``wallboard_thresholds:``:
        the file's, each field overridden by the queue's own; ``stream.thresholds``)."""
        return self._thresholds.get(queue, self._thresholds[""])

    def __repr__(self) -> str:
        return f"<TargetBook {self._source} queues={list(self._queues)}>"


def load_targets(path: str | os.PathLike[str] | None) -> TargetBook:
    """The targets book of the YAML file at ``path``; ``None`` gives the built-in targets.

    Raises ``TargetsError`` (``"<path>:<line>: <key path>: <problem>"``) for a missing or
    unreadable file and for every kind of invalid content. An empty file means the defaults.
    """
    if path is None:
        return TargetBook.default()
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise TargetsError(
            f"{name}: targets file not found (looked at {os.path.abspath(name)})", path=name
        ) from None
    except UnicodeDecodeError as error:
        raise TargetsError(
            f"{name}: targets file is not UTF-8 text (byte {error.start})", path=name
        ) from None
    except OSError as error:
        raise TargetsError(
            f"{name}: cannot read the targets file: {error.strerror or error}", path=name
        ) from None
    return parse_targets(text, source=name)


def parse_targets(text: str, *, source: str = "<string>") -> TargetBook:
    """The targets book of YAML ``text``; ``source`` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or ""
        if error.context:
            context = error.context
            if error.context_mark is not None and error.context_mark is not mark:
                context += f" (line {error.context_mark.line + 1})"
            problem = f"{context}, {problem}" if problem else context
        line = mark.line + 1 if mark is not None else None
        where = f"{source}:{line}" if line is not None else source
        raise TargetsError(f"{where}: invalid YAML: {problem}", path=source, line=line) from None
    except yaml.reader.ReaderError as error:  # a control character; it has no mark, only a position
        line = text.count("\n", 0, error.position) + 1
        character = error.character
        shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
        raise TargetsError(
            f"{source}:{line}: invalid YAML: {error.reason}: {shown}",
            path=source,
            line=line,
        ) from None
    except yaml.YAMLError as error:
        raise TargetsError(f"{source}: invalid YAML: {error}", path=source) from None
    return _TargetsReader(source).book(root)


_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_NULL_TAG: Final = "tag:yaml.org,2002:null"
_STR_TAG: Final = "tag:yaml.org,2002:str"


def _plain(value: float) -> str:
    """A number as the targets file would write it: ``5``, ``0.8``."""
    return str(int(value)) if value == int(value) else repr(value)


class _TargetsReader:
    """Validates a composed YAML tree node by node, so every error can name its line."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._constructor = yaml.constructor.SafeConstructor()

    def book(self, root: yaml.Node | None) -> TargetBook:
        if root is None or self._is_null(root):
            return TargetBook(source=self._source)
        defaults: _Layer = {}
        calendar: _CalendarLayer | None = None
        queues: dict[str, _QueueLayers] = {}
        reasons: tuple[str, ...] = ()
        thresholds: dict[str, Threshold] = {}
        for key, _, value in self._pairs(root, "", _TOP_KEYS, "key"):
            if key == "agent_reasons":
                reasons = self._reasons(value, "agent_reasons")
            elif key == "wallboard_thresholds":
                thresholds = self._thresholds(value, "wallboard_thresholds")
            elif key == "defaults":
                defaults = self._targets(value, "defaults", _TARGET_KEYS)
                calendar = self._calendar(value, "defaults", _TARGET_KEYS)
            else:
                for queue, queue_key, body in self._pairs(value, "queues", None, "queue name"):
                    if not 1 <= len(queue) <= 64:
                        raise self._error(
                            queue_key,
                            "queues",
                            f"expected a queue name of 1..64 characters, got {queue!r}",
                        )
                    queues[queue] = self._queue(body, f"queues.{queue}")
        return TargetBook(
            defaults,
            queues,
            source=self._source,
            calendar=calendar,
            agent_reasons=reasons,
            thresholds=thresholds,
        )

    def _queue(self, node: yaml.Node, where: str) -> _QueueLayers:
        channels: dict[str, _Layer] = {}
        team: str | None = None
        thresholds: dict[str, Threshold] = {}
        targets = self._targets(node, where, _QUEUE_KEYS)
        for key, _, value in self._pairs(node, where, _QUEUE_KEYS, "key"):
            if key == "team":
                team = self._team(value, f"{where}.team")
            elif key == "wallboard_thresholds":
                thresholds = self._thresholds(value, f"{where}.wallboard_thresholds")
            elif key == "channels":
                for channel, channel_key, body in self._pairs(
                    value, f"{where}.channels", None, "channel"
                ):
                    self._check_channel(channel_key, channel, f"{where}.channels")
                    channels[channel] = self._targets(
                        body, f"{where}.channels.{channel}", _CHANNEL_KEYS, channel=channel
                    )
        calendar = self._calendar(node, where, _QUEUE_KEYS)
        return _QueueLayers(targets, channels, team, calendar, MappingProxyType(thresholds))

    def _targets(
        self, node: yaml.Node, where: str, allowed: tuple[str, ...], channel: str | None = None
    ) -> _Layer:
        """The target values of one mapping (``channels`` is left to the caller)."""
        layer: dict[str, float | str | Mapping[str, float]] = {}
        for key, _, value in self._pairs(node, where, allowed, "key"):
            path = f"{where}.{key}"
            if key in ("channels", "team", "wallboard_thresholds", *_CALENDAR_KEYS):
                continue
            if key == "timezone":
                layer[key] = self._timezone(value, path)
            elif key == "service_level_goal":
                layer[key] = self._goal(value, path)
            elif key == "survey_min_sample":
                layer[key] = float(self._count(value, path))
            elif key == "first_response_seconds":
                if isinstance(value, yaml.MappingNode) and channel is None:
                    per_channel: dict[str, float] = {}
                    for name, name_key, node_value in self._pairs(value, path, None, "channel"):
                        self._check_channel(name_key, name, path)
                        per_channel[name] = self._duration(node_value, f"{path}.{name}")
                    layer[key] = per_channel
                else:
                    seconds = self._duration(value, path)
                    layer[key] = {name: seconds for name in ((channel,) if channel else CHANNELS)}
            else:
                layer[key] = self._duration(
                    value, path, zero_allowed=key == "short_abandon_seconds"
                )
        return layer

    # -- values ------------------------------------------------------------------------------

    def _duration(self, node: yaml.Node, where: str, *, zero_allowed: bool = False) -> float:
        kind = "a non-negative duration" if zero_allowed else "a positive duration"
        value = self._scalar(node, where, kind)
        try:
            seconds = parse_duration(value)
        except ValueError:
            hint = " (seconds, or a string like '90s', '15m', '24h', '2d')"
            raise self._error(
                node, where, f"expected {kind}{hint}, got {self._shown(node)}"
            ) from None
        if seconds < 0 or (seconds == 0 and not zero_allowed):
            raise self._error(node, where, f"expected {kind}, got {self._shown(node)}")
        return seconds

    def _goal(self, node: yaml.Node, where: str) -> float:
        wanted = "a ratio in (0, 1] such as 0.8 or '80%'"
        expected = f"expected {wanted}"
        value = self._scalar(node, where, wanted)
        goal: float
        try:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str) and value.strip().endswith("%"):
                goal = float(value.strip()[:-1]) / 100
            elif isinstance(value, int | float | str):
                goal = float(value)
            else:
                raise ValueError
        except ValueError:
            raise self._error(node, where, f"{expected}, got {self._shown(node)}") from None
        if not 0 < goal <= 1:  # also false for NaN
            raise self._error(node, where, f"{expected}, got {self._shown(node)}")
        return goal

    def _count(self, node: yaml.Node, where: str) -> int:
        expected = "a positive whole number of responses"
        value = self._scalar(node, where, expected)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self._error(node, where, f"expected {expected}, got {self._shown(node)}")
        return value

    def _reasons(self, node: yaml.Node, where: str) -> tuple[str, ...]:
        """``agent_reasons``: a list of distinct away reasons (1..64 characters, not ``other``),
        at most ``MAX_AGENT_REASONS``."""
        if self._is_null(node):
            return ()
        if not isinstance(node, yaml.SequenceNode):
            raise self._error(node, where, f"expected a list of reasons, got {self._shown(node)}")
        if len(node.value) > MAX_AGENT_REASONS:
            raise self._error(
                node, where, f"at most {MAX_AGENT_REASONS} reasons, got {len(node.value)}"
            )
        out: list[str] = []
        expected = "a reason of 1..64 characters"
        for i, item in enumerate(node.value):
            value = self._scalar(item, f"{where}[{i}]", expected)
            if not isinstance(value, str) or not 1 <= len(value) <= 64:
                raise self._error(
                    item, f"{where}[{i}]", f"expected {expected}, got {self._shown(item)}"
                )
            if value == "other":
                raise self._error(
                    item, f"{where}[{i}]", "'other' is the label of every unlisted reason"
                )
            if value in out:
                raise self._error(item, f"{where}[{i}]", f"{value!r} is listed twice")
            out.append(value)
        return tuple(out)

    def _thresholds(self, node: yaml.Node, where: str) -> dict[str, Threshold]:
        """``wallboard_thresholds``: tile field → ``{warn: X, bad: Y}`` (``stream.thresholds``),
        both required, each in the field's kind, ordered the way the field gets worse."""
        out: dict[str, Threshold] = {}
        for name, _, body in self._pairs(node, where, tuple(TILE_FIELDS), "tile field"):
            path = f"{where}.{name}"
            kind, direction = TILE_FIELDS[name]
            values: dict[str, float] = {}
            for bound, _, value in self._pairs(body, path, ("warn", "bad"), "key"):
                values[bound] = self._boundary(value, f"{path}.{bound}", kind)
            missing = [b for b in ("warn", "bad") if b not in values]
            if missing:
                raise self._error(
                    body, path, f"expected both warn and bad, {' and '.join(missing)} missing"
                )
            warn, bad = values["warn"], values["bad"]
            if (direction == "above" and bad < warn) or (direction == "below" and bad > warn):
                way = "higher" if direction == "above" else "lower"
                order = "at least" if direction == "above" else "at most"
                raise self._error(
                    body,
                    path,
                    f"bad ({_plain(bad)}) must be {order} warn ({_plain(warn)}): "
                    f"a {way} {name} is worse",
                )
            out[name] = Threshold(warn=warn, bad=bad)
        return out

    def _boundary(self, node: yaml.Node, where: str, kind: str) -> float:
        if kind == "duration":
            return self._duration(node, where, zero_allowed=True)
        if kind == "ratio":
            wanted = "a ratio in [0, 1] such as 0.8 or '80%'"
            value = self._scalar(node, where, wanted)
            try:
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, str) and value.strip().endswith("%"):
                    ratio = float(value.strip()[:-1]) / 100
                elif isinstance(value, int | float | str):
                    ratio = float(value)
                else:
                    raise ValueError
            except ValueError:
                ratio = math.nan
            if not 0 <= ratio <= 1:  # also true for NaN
                raise self._error(node, where, f"expected {wanted}, got {self._shown(node)}")
            return ratio
        wanted = "a count (a whole number, 0 or more)"
        value = self._scalar(node, where, wanted)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._error(node, where, f"expected {wanted}, got {self._shown(node)}")
        return float(value)

    def _team(self, node: yaml.Node, where: str) -> str:
        expected = "a team name of 1..64 characters"
        value = self._scalar(node, where, expected)
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= 64:
            raise self._error(node, where, f"expected {expected}, got {self._shown(node)}")
        return value.strip()

    def _timezone(self, node: yaml.Node, where: str) -> str:
        value = self._scalar(node, where, "an IANA time zone such as 'Europe/Berlin'")
        if isinstance(value, str) and value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                pass
            else:
                return value
        message = f"expected an IANA time zone such as 'Europe/Berlin', got {self._shown(node)}"
        if isinstance(value, str):
            close = difflib.get_close_matches(value, zoneinfo.available_timezones(), n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        raise self._error(node, where, message)

    def _calendar(self, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> _CalendarLayer:
        """``business_hours`` and ``holidays`` of one mapping (the other keys: ``_targets``)."""
        weekly: Weekly | None = None
        always_open = False
        holidays: frozenset[date] | None = None
        for key, _, value in self._pairs(node, where, allowed, "key"):
            if key == "business_hours":
                if isinstance(value, yaml.ScalarNode) and value.value.strip().lower() == "24x7":
                    always_open = True
                else:
                    weekly = self._weekly(value, f"{where}.{key}")
            elif key == "holidays":
                holidays = self._holidays(value, f"{where}.{key}")
        return _CalendarLayer(weekly, always_open, holidays)

    def _weekly(self, node: yaml.Node, where: str) -> Weekly:
        example = "a mapping of weekdays to hours such as {mon: '08:00-18:00'}, or '24x7'"
        if not isinstance(node, yaml.MappingNode):
            raise self._error(node, where, f"expected {example}, got {self._shown(node)}")
        days: dict[str, tuple[Range, ...]] = {}
        for day, _, value in self._pairs(node, where, WEEKDAYS, "weekday"):
            days[day] = self._hours(value, f"{where}.{day}")
        if not any(days.values()):
            raise self._error(
                node, where, "no day has opening hours (leave business_hours out, or '24x7')"
            )
        return tuple(days.get(day, ()) for day in WEEKDAYS)

    def _hours(self, node: yaml.Node, where: str) -> tuple[Range, ...]:
        """One day: ``'08:00-12:00, 13:00-18:00'``, a list of ranges, or ``closed``/null/[]."""
        expected = "hours such as '08:00-18:00' or '08:00-12:00, 13:00-18:00', or 'closed'"
        if self._is_null(node):
            return ()
        if isinstance(node, yaml.SequenceNode):
            parts: list[str] = []
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode) or self._is_null(item):
                    raise self._error(item, where, f"expected {expected}, got {self._shown(item)}")
                self._ranges(item, item.value, where, expected)  # names the item's own line
                parts.append(item.value)
            return self._ranges(node, ", ".join(parts), where, expected) if parts else ()
        if not isinstance(node, yaml.ScalarNode):
            raise self._error(node, where, f"expected {expected}, got {self._shown(node)}")
        # The text as written: YAML 1.1 would read an unquoted 08:00 as the number 480.
        if node.value.strip().lower() == "closed":
            return ()
        return self._ranges(node, node.value, where, expected)

    def _ranges(self, node: yaml.Node, text: str, where: str, expected: str) -> tuple[Range, ...]:
        try:
            return parse_ranges(text)
        except ValueError as problem:
            raise self._error(
                node, where, f"expected {expected}, got {self._shown(node)}: {problem}"
            ) from None

    def _holidays(self, node: yaml.Node, where: str) -> frozenset[date]:
        expected = "a list of ISO dates such as [2026-12-25, 2026-12-26]"
        if self._is_null(node):
            return frozenset()
        if not isinstance(node, yaml.SequenceNode):
            raise self._error(node, where, f"expected {expected}, got {self._shown(node)}")
        days: set[date] = set()
        for item in node.value:
            # The text as written (YAML would fail on an unquoted 2026-02-30 with no line).
            text = item.value.strip() if isinstance(item, yaml.ScalarNode) else ""
            day: date | None = None
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                try:
                    day = date.fromisoformat(text)
                except ValueError:
                    day = None
            if day is None:
                raise self._error(
                    item, where, f"expected an ISO date such as 2026-12-25, got {self._shown(item)}"
                )
            days.add(day)
        return frozenset(days)

    def _check_channel(self, key_node: yaml.Node, channel: str, where: str) -> None:
        if channel not in CHANNELS:
            raise self._error(
                key_node,
                where,
                f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}",
            )

    def _scalar(self, node: yaml.Node, where: str, expected: str) -> object:
        if not isinstance(node, yaml.ScalarNode):
            raise self._error(node, where, f"expected {expected}, got {self._shown(node)}")
        try:
            return self._constructor.construct_object(node)
        except yaml.YAMLError as error:  # e.g. an unknown !tag
            raise self._error(node, where, f"expected {expected}, got {error}") from None

    # -- structure ---------------------------------------------------------------------------

    def _pairs(
        self, node: yaml.Node, where: str, allowed: tuple[str, ...] | None, what: str
    ) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping, merge keys (``<<``) applied.

        Null is an empty mapping (``queues:`` with nothing under it). Keys must be scalars,
        unique within the mapping and, when ``allowed`` is given, one of them.
        """
        if self._is_null(node):
            return iter(())
        if not isinstance(node, yaml.MappingNode):
            expected = "a mapping" + (f" with keys {', '.join(allowed)}" if allowed else "")
            raise self._error(node, where, f"expected {expected}, got {self._shown(node)}")
        pairs = self._flatten(node, where, allowed, what, frozenset())
        return iter(pairs)

    def _flatten(
        self,
        node: yaml.MappingNode,
        where: str,
        allowed: tuple[str, ...] | None,
        what: str,
        visiting: frozenset[int],
    ) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if id(node) in visiting:
            raise self._error(node, where, "a merge key (<<) refers to itself")
        own: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merged: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise self._error(
                            source, where, f"expected a mapping to merge, got {self._shown(source)}"
                        )
                    merged.extend(
                        self._flatten(source, where, allowed, what, visiting | {id(node)})
                    )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._error(
                    key_node, where, f"expected a {what} as key, got {self._shown(key_node)}"
                )
            key = key_node.value
            if key in own:
                first = own[key][0].start_mark.line + 1
                raise self._error(key_node, where, f"duplicate key {key!r} (first at line {first})")
            if allowed is not None and key not in allowed:
                message = f"unknown key {key!r}"
                close = difflib.get_close_matches(key, allowed, n=1)
                if close:
                    message += f" (did you mean {close[0]!r}?)"
                if key in _CALENDAR_KEYS:
                    message += "; business hours and holidays are set per queue, not channel"
                elif key in _TARGET_KEYS:
                    message += "; time zone and service-level goal are set per queue, not channel"
                raise self._error(key_node, where, f"{message}; allowed keys: {', '.join(allowed)}")
            own[key] = (key_node, value_node)
        # The mapping's own keys win over merged ones; among merged ones the first source wins.
        result = [(key, key_node, value) for key, (key_node, value) in own.items()]
        seen = set(own)
        for key, key_node, value in merged:
            if key not in seen:
                seen.add(key)
                result.append((key, key_node, value))
        return result

    # -- errors ------------------------------------------------------------------------------

    @staticmethod
    def _is_null(node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG

    @staticmethod
    def _shown(node: yaml.Node) -> str:
        """How a value appears in an error message: as written, strings quoted."""
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        if node.tag == _NULL_TAG:
            return "null"
        if node.tag == _STR_TAG:
            return repr(node.value)
        return str(node.value)

    def _error(self, node: yaml.Node, where: str, message: str) -> TargetsError:
        line = node.start_mark.line + 1
        prefix = f"{where}: " if where else ""
        return TargetsError(
            f"{self._source}:{line}: {prefix}{message}", path=self._source, line=line
        )
