"""The worker's settings: one frozen ``Settings`` read from ``STREAM_*`` environment variables.

Each field's variable is the prefix plus the field name in upper case (``web_port`` is
``STREAM_WEB_PORT``); each field's converter (``stream.config.convert``) is in one table here,
used for the environment (``Settings.from_env``), for ``Settings(...)`` and ``replace()``, and
for the command-line options that mirror a setting (``cli_type``, ``cli_default``), so the two
cannot drift. A bad value raises ``ConfigError`` naming the variable, the value and what is
expected; all bad values are reported at once, one per line.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from stream.config.convert import (
    Converter,
    Invalid,
    boolean,
    broker_url,
    choice,
    epoch_seconds,
    integer,
    optional,
    seconds,
    secret,
    text,
)
from stream.config.errors import ConfigError
from stream.config.secrets import KAFKA_PROTOCOLS, SASL_MECHANISMS, Secret, problems, redact_url
from stream.core.admission import DEFAULT_MAX_QUEUES

__all__ = [
    "ENV_PREFIX",
    "ENV_VARIABLES",
    "FORWARD_FRAMING_BYTES",
    "Settings",
    "cli_default",
    "cli_type",
    "unknown_variables",
    "variable",
]

ENV_PREFIX: Final = "STREAM_"
FORWARD_FRAMING_BYTES: Final = 64 * 1024
"""Room a forwarded event needs beyond its own bytes: the internal message's framing and the
record batch's headers (``stream.stages.forward``: an event that travels typed and as its bytes
takes at
most ``stream.stages.forward.TYPED_MAX_VALUE_BYTES`` more)."""

# Kafka's legal topic names: at most 249 of [a-zA-Z0-9._-] ("." and ".." alone are reserved).
_KAFKA_NAME: Final = r"(?!\.\.?$)[A-Za-z0-9._-]{1,249}"

_CONVERTERS: Final[Mapping[str, Converter]] = {
    "broker_url": broker_url,
    "web_port": integer(1, 65535),
    "web_host": text(r"[A-Za-z0-9._:%\[\]-]+", "a host name or IP address to listen on"),
    "kafka_security_protocol": choice(*KAFKA_PROTOCOLS, upper=True),
    "kafka_sasl_mechanism": choice(*SASL_MECHANISMS, upper=True),
    "kafka_sasl_username": optional(text(r".+", "a user name")),
    "kafka_sasl_password": secret,
    "kafka_sasl_password_file": optional(text(r".+", "the path of a file holding the password")),
    "kafka_ssl_cafile": optional(text(r".+", "the path of a PEM file of CA certificates")),
    "kafka_ssl_certfile": optional(text(r".+", "the path of the client's PEM certificate")),
    "kafka_ssl_keyfile": optional(text(r".+", "the path of the client's PEM private key")),
    "kafka_ssl_key_password": secret,
    "kafka_ssl_key_password_file": optional(
        text(r".+", "the path of a file holding the key's pass-phrase")
    ),
    "kafka_ssl_check_hostname": boolean,
    "redis_url": optional(
        text(r"(?:redis|rediss|unix)://\S+", "a Redis URL (redis://, rediss:// or unix://)")
    ),
    "redis_password": secret,
    "redis_password_file": optional(text(r".+", "the path of a file holding the password")),
    "redis_ssl_cafile": optional(text(r".+", "the path of a PEM file of CA certificates")),
    "targets_file": optional(text(r".+", "the path of a YAML targets file")),
    "wallboard_port": integer(1, 65535),
    "wallboard_host": text(r"[A-Za-z0-9._:%\[\]-]+", "a host name or IP address to listen on"),
    "wallboard_stale_seconds": seconds(zero_allowed=False),
    "wallboard_max_clients": integer(1, 100_000),
    "wallboard_agents": integer(0, 200),
    "app_id": text(_KAFKA_NAME, "1..249 characters of A-Z a-z 0-9 . _ -"),
    "topic_tickets": text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_calls": text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_agents": text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_customers": text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_dead_letter": text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "topic_ingest_dead_letter": text(
        _KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"
    ),
    "topic_windows": text(_KAFKA_NAME, "a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)"),
    "partitions": integer(1, 10_000),
    "grace_seconds": seconds(zero_allowed=True),
    "alignment_seconds": seconds(zero_allowed=True),
    "idle_seconds": seconds(zero_allowed=False),
    "future_skew_seconds": seconds(zero_allowed=True),
    "retention_seconds": seconds(zero_allowed=False),
    "conversion_horizon_seconds": seconds(zero_allowed=False),
    "max_queues": integer(1, 1_000_000),
    "ewt_recent_calls": integer(1, 5_000),
    "max_event_bytes": integer(1, 100 * 1024 * 1024),
    "producer_max_request_bytes": integer(1_000_000, 1024 * 1024 * 1024),
    "batch_max": integer(1, 1_000_000),
    "producer_max_batch_bytes": integer(1, 64 * 1024 * 1024),
    "batch_consumer": boolean,
    "fetch_max_wait_ms": integer(1, 60_000),
    "heap_trim_seconds": seconds(zero_allowed=True),
    "gc_young_threshold": integer(0, 10_000_000),
    "batch_within_seconds": seconds(zero_allowed=False),
    "session_timeout_seconds": seconds(zero_allowed=False),
    "standby_replicas": integer(0, 16),
    "store": text(
        r"(?:memory|rocksdb|rocksdict)://\S*",
        "a Faust store URL: memory://, rocksdb:// or rocksdict://",
    ),
    "data_dir": text(r".+", "a directory path"),
    "broker_data_dir": optional(text(r".+", "a directory path")),
    "frozen_time": optional(epoch_seconds),
    "log_level": choice(
        "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", aliases={"WARN": "WARNING"}, upper=True
    ),
    "log_format": choice("json", "text", upper=False),
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
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (``stream.config.security`` makes the clients)."""
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
    (``stream.core.progress``); events for windows it has passed count as late."""
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
    """An order at most this long after a contact converts it (``stream.core.kpis.customers``)."""
    max_queues: int = DEFAULT_MAX_QUEUES
    """Queues outside the targets file that get series, split across the ``partitions`` of the
    queue-keyed topic (``stream.core.admission``); events of further queues are rejected
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
    """Hand whole fetches of the pipeline's topics to the pipeline (``stream.worker.consumer``);
    ``0`` uses Faust's per-message path instead (slower; kept for comparison)."""
    fetch_max_wait_ms: int = 100
    """Longest wait of a fetch with no new data. Kafka answers as soon as data arrives; the
    embedded Tansu broker waits this long, so it bounds event-to-metric latency there (Faust's
    own value is 1500)."""
    heap_trim_seconds: float = 5.0
    """How often the worker returns freed heap memory to the OS (``stream.worker.heap``); ``0``
    never."""
    gc_young_threshold: int = 50_000
    """Allocations between collections of the cyclic garbage collector's youngest generation
    (``stream.worker.heap``; CPython's default is 700); ``0`` keeps Python's own settings."""
    producer_max_batch_bytes: int = 16384
    """Producer batch size limit. Set 1 on the embedded Tansu broker: its memory engine answers
    ListOffsets(latest) with the last batch's base offset + 1, so with multi-record batches Faust
    stops reading a changelog early on recovery. One record per batch keeps the offsets right."""
    session_timeout_seconds: float = 2.0
    """Kafka consumer session timeout: how long a dead worker's partitions stay unowned (Apache
    Kafka refuses values below its brokers' ``group.min.session.timeout.ms``, 6 s by default)."""
    standby_replicas: int = 1
    """Workers that keep following the changelog of each partition they do not own, so a
    takeover reads only its tail (``stream.store.standby``); ``0``: none."""
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
            except Invalid as invalid:
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


def variable(field_name: str) -> str:
    """The environment variable of the setting ``field_name`` (``STREAM_`` + upper case)."""
    return _variable(field_name)


def cli_type(field_name: str) -> Callable[[str], object]:
    """An argparse ``type=`` for an option mirroring the setting ``field_name``: the setting's own
    converter, so the option accepts exactly what the variable accepts."""
    convert = _CONVERTERS[field_name]

    def parse(value: str) -> object:
        try:
            return convert(value)
        except Invalid as invalid:
            raise argparse.ArgumentTypeError(f"expected {invalid}, got {value!r}") from None

    parse.__name__ = field_name  # argparse names the type in some of its messages
    return parse


def cli_default(field_name: str) -> str:
    """``"STREAM_WALLBOARD_PORT, 8080"``: where a mirroring option's default comes from, for
    its ``--help``."""
    default = next(f.default for f in dataclasses.fields(Settings) if f.name == field_name)
    if isinstance(default, float) and default == int(default):
        default = int(default)
    return f"{_variable(field_name)}, {default}"
