"""Tests of stream/config/: settings from STREAM_* variables, durations and the targets file."""

from __future__ import annotations

import dataclasses
import textwrap
import zoneinfo
from datetime import date
from pathlib import Path

import pytest

from stream.config import (
    BUILTIN_FIRST_RESPONSE_SECONDS,
    BUILTIN_TARGETS,
    CHANNELS,
    ENV_VARIABLES,
    ConfigError,
    Settings,
    TargetBook,
    Targets,
    TargetsError,
    load_targets,
    parse_duration,
    parse_targets,
    unknown_variables,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "targets.example.yaml"
HOUR = 3600.0
DAY = 86400.0

# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.broker_url == "kafka://127.0.0.1:9092"
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.web_port == 6066
    assert settings.web_host == "127.0.0.1"
    assert settings.redis_url is None
    assert settings.targets_file is None
    assert settings.app_id == "contact-centre-kpis"
    assert settings.input_topics == ("tickets", "calls", "agents", "customers")
    assert settings.topic_dead_letter == "kpi-dead-letter"
    assert settings.partitions == 8
    assert settings.grace_seconds == 60.0
    assert settings.idle_seconds == 30.0
    assert settings.future_skew_seconds == 300.0
    assert settings.retention_seconds == 86400.0
    assert settings.max_event_bytes == 65536
    assert settings.batch_max == 10000
    assert settings.batch_within_seconds == 0.05
    assert settings.session_timeout_seconds == 2.0
    assert settings.standby_replicas == 1
    assert settings.store == "memory://"
    assert settings.data_dir == "var/data"
    assert settings.frozen_time is None
    assert settings.log_level == "INFO"
    assert settings.log_format == "json"


def test_every_field_has_exactly_one_variable() -> None:
    assert len(ENV_VARIABLES) == len(set(ENV_VARIABLES)) == len(dataclasses.fields(Settings))
    assert all(name.startswith("STREAM_") for name in ENV_VARIABLES)


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("STREAM_BROKER_URL", "kafka://k1:9093", "broker_url", "kafka://k1:9093"),
        ("STREAM_BROKER_URL", "k1", "broker_url", "kafka://k1:9092"),
        ("STREAM_BROKER_URL", "kafka://a:1,b:2", "broker_url", "kafka://a:1,b:2"),
        ("STREAM_BROKER_URL", "kafka://a:1, kafka://b:2", "broker_url", "kafka://a:1,b:2"),
        ("STREAM_BROKER_URL", "KAFKA://[::1]:9092", "broker_url", "kafka://[::1]:9092"),
        ("STREAM_WEB_PORT", "8080", "web_port", 8080),
        ("STREAM_WEB_PORT", " 65535 ", "web_port", 65535),
        ("STREAM_WEB_HOST", "0.0.0.0", "web_host", "0.0.0.0"),
        ("STREAM_REDIS_URL", "redis://localhost:6379/0", "redis_url", "redis://localhost:6379/0"),
        ("STREAM_REDIS_URL", "rediss://r:6380", "redis_url", "rediss://r:6380"),
        ("STREAM_TARGETS_FILE", "deploy/targets.yaml", "targets_file", "deploy/targets.yaml"),
        ("STREAM_APP_ID", "kpis-test_1", "app_id", "kpis-test_1"),
        ("STREAM_TOPIC_TICKETS", "t1", "topic_tickets", "t1"),
        ("STREAM_TOPIC_CALLS", "c1", "topic_calls", "c1"),
        ("STREAM_TOPIC_AGENTS", "a1", "topic_agents", "a1"),
        ("STREAM_TOPIC_CUSTOMERS", "cu1", "topic_customers", "cu1"),
        ("STREAM_TOPIC_DEAD_LETTER", "dlq.v2", "topic_dead_letter", "dlq.v2"),
        ("STREAM_PARTITIONS", "1", "partitions", 1),
        ("STREAM_GRACE_SECONDS", "0", "grace_seconds", 0.0),
        ("STREAM_GRACE_SECONDS", "2m", "grace_seconds", 120.0),
        ("STREAM_IDLE_SECONDS", "1.5", "idle_seconds", 1.5),
        ("STREAM_FUTURE_SKEW_SECONDS", "10m", "future_skew_seconds", 600.0),
        ("STREAM_RETENTION_SECONDS", "7d", "retention_seconds", 7 * DAY),
        ("STREAM_MAX_EVENT_BYTES", "524288", "max_event_bytes", 524288),
        ("STREAM_PRODUCER_MAX_REQUEST_BYTES", "4194304", "producer_max_request_bytes", 4194304),
        ("STREAM_BATCH_MAX", "500", "batch_max", 500),
        ("STREAM_BATCH_WITHIN_SECONDS", "20ms", "batch_within_seconds", 0.02),
        ("STREAM_SESSION_TIMEOUT_SECONDS", "30", "session_timeout_seconds", 30.0),
        ("STREAM_STANDBY_REPLICAS", "0", "standby_replicas", 0),
        ("STREAM_STORE", "rocksdb://", "store", "rocksdb://"),
        ("STREAM_DATA_DIR", "/var/lib/kpis", "data_dir", "/var/lib/kpis"),
        ("STREAM_FROZEN_TIME", "2026-11-22T14:03:12Z", "frozen_time", 1795356192.0),
        ("STREAM_FROZEN_TIME", "2026-11-22T15:03:12.5+01:00", "frozen_time", 1795356192.5),
        ("STREAM_FROZEN_TIME", "2026-11-22 09:03:12-05:00", "frozen_time", 1795356192.0),
        ("STREAM_LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("STREAM_LOG_LEVEL", "warn", "log_level", "WARNING"),
        ("STREAM_LOG_FORMAT", "TEXT", "log_format", "text"),
        ("STREAM_WALLBOARD_PORT", "9090", "wallboard_port", 9090),
        ("STREAM_WALLBOARD_HOST", "0.0.0.0", "wallboard_host", "0.0.0.0"),
        ("STREAM_WALLBOARD_STALE_SECONDS", "1m", "wallboard_stale_seconds", 60.0),
        ("STREAM_WALLBOARD_MAX_CLIENTS", "250", "wallboard_max_clients", 250),
    ],
)
def test_each_variable_is_read(variable: str, raw: str, field: str, expected: object) -> None:
    settings = Settings.from_env({variable: raw})
    assert getattr(settings, field) == expected
    assert variable in ENV_VARIABLES


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("STREAM_WEB_PORT", "abc", "STREAM_WEB_PORT='abc': expected an integer 1..65535"),
        ("STREAM_WEB_PORT", "0", "STREAM_WEB_PORT='0': expected an integer 1..65535"),
        ("STREAM_WEB_PORT", "70000", "STREAM_WEB_PORT='70000': expected an integer 1..65535"),
        ("STREAM_WEB_PORT", "80.0", "STREAM_WEB_PORT='80.0': expected an integer 1..65535"),
        (
            "STREAM_BROKER_URL",
            "http://k:9092",
            "STREAM_BROKER_URL='http://k:9092': expected a broker URL kafka://host:port, "
            "or a comma-separated list kafka://host1:port,host2:port",
        ),
        ("STREAM_BROKER_URL", "kafka://k:99999", "STREAM_BROKER_URL='kafka://k:99999'"),
        ("STREAM_BROKER_URL", "kafka://a:1,,b:2", "STREAM_BROKER_URL='kafka://a:1,,b:2'"),
        ("STREAM_WEB_HOST", "my host", "STREAM_WEB_HOST='my host': expected a host name"),
        ("STREAM_REDIS_URL", "localhost:6379", "STREAM_REDIS_URL='localhost:6379': expected a"),
        ("STREAM_APP_ID", "kpis app", "STREAM_APP_ID='kpis app': expected 1..249 characters"),
        ("STREAM_TOPIC_TICKETS", "t/1", "STREAM_TOPIC_TICKETS='t/1': expected a Kafka topic"),
        ("STREAM_TOPIC_CALLS", "..", "STREAM_TOPIC_CALLS='..': expected a Kafka topic"),
        ("STREAM_TOPIC_AGENTS", "a" * 250, "STREAM_TOPIC_AGENTS='aaa"),
        ("STREAM_TOPIC_CUSTOMERS", "c:1", "STREAM_TOPIC_CUSTOMERS='c:1': expected a Kafka"),
        ("STREAM_TOPIC_DEAD_LETTER", "d l", "STREAM_TOPIC_DEAD_LETTER='d l': expected a Kafka"),
        ("STREAM_PARTITIONS", "0", "STREAM_PARTITIONS='0': expected an integer 1..10000"),
        (
            "STREAM_GRACE_SECONDS",
            "-1",
            "STREAM_GRACE_SECONDS='-1': expected a non-negative duration in seconds "
            "(e.g. 30, 1.5, '90s', '15m')",
        ),
        ("STREAM_GRACE_SECONDS", "soon", "STREAM_GRACE_SECONDS='soon': expected a non-negative"),
        ("STREAM_IDLE_SECONDS", "0", "STREAM_IDLE_SECONDS='0': expected a positive duration"),
        ("STREAM_FUTURE_SKEW_SECONDS", "nan", "STREAM_FUTURE_SKEW_SECONDS='nan': expected a"),
        ("STREAM_RETENTION_SECONDS", "inf", "STREAM_RETENTION_SECONDS='inf': expected a positive"),
        ("STREAM_MAX_EVENT_BYTES", "64k", "STREAM_MAX_EVENT_BYTES='64k': expected an integer"),
        ("STREAM_BATCH_MAX", "-5", "STREAM_BATCH_MAX='-5': expected an integer 1..1000000"),
        ("STREAM_BATCH_WITHIN_SECONDS", "5x", "STREAM_BATCH_WITHIN_SECONDS='5x': expected a"),
        ("STREAM_SESSION_TIMEOUT_SECONDS", "0s", "STREAM_SESSION_TIMEOUT_SECONDS='0s': expected"),
        ("STREAM_STORE", "redis://", "STREAM_STORE='redis://': expected a Faust store URL"),
        (
            "STREAM_FROZEN_TIME",
            "2026-11-22T14:03:12",
            "STREAM_FROZEN_TIME='2026-11-22T14:03:12': expected an RFC 3339 timestamp with "
            "offset, e.g. '2026-11-22T14:03:12Z'",
        ),
        ("STREAM_FROZEN_TIME", "2026-13-01T00:00:00Z", "STREAM_FROZEN_TIME='2026-13-01T00:00:00Z'"),
        ("STREAM_FROZEN_TIME", "yesterday", "STREAM_FROZEN_TIME='yesterday': expected an RFC"),
        (
            "STREAM_LOG_LEVEL",
            "verbose",
            "STREAM_LOG_LEVEL='verbose': expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
        ("STREAM_LOG_FORMAT", "xml", "STREAM_LOG_FORMAT='xml': expected one of json, text"),
        (
            "STREAM_TOPIC_CALLS",
            "tickets",
            "STREAM_TOPIC_CALLS='tickets': expected a topic different from STREAM_TOPIC_TICKETS",
        ),
    ],
)
def test_each_bad_value_names_the_variable(variable: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: raw})
    assert str(caught.value).startswith(message)
    assert len(caught.value.errors) == 1


def test_all_bad_values_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"STREAM_WEB_PORT": "x", "STREAM_PARTITIONS": "y"})
    assert caught.value.errors == (
        "STREAM_WEB_PORT='x': expected an integer 1..65535",
        "STREAM_PARTITIONS='y': expected an integer 1..10000",
    )
    assert str(caught.value) == "\n".join(caught.value.errors)


def test_empty_values_mean_the_default() -> None:
    settings = Settings.from_env({"STREAM_REDIS_URL": "", "STREAM_WEB_PORT": "  "})
    assert settings.redis_url is None
    assert settings.web_port == 6066


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_WEB_PORT", "7070")
    assert Settings.from_env().web_port == 7070


def test_unknown_variables_are_ignored_but_listed() -> None:
    environ = {"STREAM_WEB_PROT": "1", "STREAM_WEB_PORT": "7070", "PATH": "/bin", "STREAM_X": ""}
    assert Settings.from_env(environ).web_port == 7070
    assert unknown_variables(environ) == ["STREAM_WEB_PROT", "STREAM_X"]


def test_bootstrap_servers_drop_the_scheme() -> None:
    settings = Settings.from_env({"STREAM_BROKER_URL": "kafka://k1:9092,kafka://k2"})
    assert settings.broker_url == "kafka://k1:9092,k2:9092"
    assert settings.bootstrap_servers == "k1:9092,k2:9092"


def test_replace_validates_and_normalises() -> None:
    settings = Settings().replace(web_port=7000, log_level="error", targets_file=EXAMPLE)
    assert (settings.web_port, settings.log_level) == (7000, "ERROR")
    assert settings.targets_file == str(EXAMPLE)
    with pytest.raises(ConfigError, match=r"^STREAM_WEB_PORT=0: expected an integer 1\.\.65535$"):
        settings.replace(web_port=0)
    with pytest.raises(ConfigError, match=r"^STREAM_WEB_PORT=True: "):
        settings.replace(web_port=True)


def test_clock_is_frozen_only_when_asked() -> None:
    frozen = Settings.from_env({"STREAM_FROZEN_TIME": "2026-11-22T14:03:12.345Z"})
    assert frozen.frozen_time == pytest.approx(1795356192.345)
    assert frozen.clock()() == frozen.frozen_time
    assert Settings().clock()() > 1.7e9


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (20, 20.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("24h", 86400.0),
        ("2d", 172800.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1.5h", 5400.0),
        ("50ms", 0.05),
        (" 5s ", 5.0),
        ("-3", -3.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "abc", "5 minutes", "m5", "1w", "nan", "inf", True, None])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


def targets(text: str) -> TargetBook:
    return parse_targets(textwrap.dedent(text), source="targets.yaml")


def test_builtin_targets_are_those_of_kpis_md() -> None:
    book = load_targets(None)
    assert book.queues() == []
    assert book.for_queue("any") == BUILTIN_TARGETS
    kpis_md = Targets(
        answer_target_seconds=20.0,
        short_abandon_seconds=5.0,
        first_response_seconds=60.0,
        resolution_seconds=2 * DAY,
        handle_time_seconds=6 * 60.0,
        service_level_goal=0.8,
        timezone="UTC",
    )
    assert book.for_queue("any") == kpis_md
    first_response = {c: book.for_queue("any", c).first_response_seconds for c in CHANNELS}
    assert first_response == {
        "phone": 60.0,
        "chat": 60.0,
        "email": DAY,
        "social": DAY,
        "web": DAY,
        "sms": DAY,
    }
    assert first_response == BUILTIN_FIRST_RESPONSE_SECONDS
    assert book.zone("any") == zoneinfo.ZoneInfo("UTC")


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "~\n", "defaults:\nqueues:\n"])
def test_empty_file_means_defaults(text: str) -> None:
    book = targets(text)
    assert book.queues() == []
    assert book.for_queue("q", "email") == TargetBook.default().for_queue("q", "email")


RESOLUTION = """\
defaults:
  answer_target_seconds: 25
  first_response_seconds: {email: 12h}
  timezone: Europe/Paris
queues:
  billing:
    answer_target_seconds: 30
    short_abandon_seconds: 0
    first_response_seconds: 2h
    service_level_goal: 90%
    timezone: Europe/Berlin
    channels:
      chat: {answer_target_seconds: 10, first_response_seconds: 30}
      email: {resolution_seconds: 3d}
  sales:
"""


@pytest.mark.parametrize(
    ("queue", "channel", "field", "expected"),
    [
        # built-in (no override anywhere)
        ("other", None, "handle_time_seconds", 360.0),
        ("billing", "chat", "handle_time_seconds", 360.0),
        # file defaults over built-in, for unknown and for named queues
        ("other", None, "answer_target_seconds", 25.0),
        ("sales", "phone", "answer_target_seconds", 25.0),
        ("other", "email", "first_response_seconds", 12 * HOUR),
        ("other", "web", "first_response_seconds", DAY),
        ("other", "phone", "first_response_seconds", 60.0),
        ("other", None, "timezone", "Europe/Paris"),
        # queue over defaults
        ("billing", None, "answer_target_seconds", 30.0),
        ("billing", "phone", "answer_target_seconds", 30.0),
        ("billing", "email", "first_response_seconds", 2 * HOUR),
        ("billing", "phone", "short_abandon_seconds", 0.0),
        ("billing", None, "service_level_goal", 0.9),
        ("billing", "chat", "timezone", "Europe/Berlin"),
        # queue's channel over queue
        ("billing", "chat", "answer_target_seconds", 10.0),
        ("billing", "chat", "first_response_seconds", 30.0),
        ("billing", "email", "resolution_seconds", 3 * DAY),
        ("billing", "phone", "resolution_seconds", 2 * DAY),
        # without a channel, the strictest first-response target of the queue
        ("billing", None, "first_response_seconds", 2 * HOUR),
        ("other", None, "first_response_seconds", 60.0),
    ],
)
def test_resolution_order(queue: str, channel: str | None, field: str, expected: object) -> None:
    assert getattr(targets(RESOLUTION).for_queue(queue, channel), field) == expected


def test_queues_zones_and_caching() -> None:
    book = targets(RESOLUTION)
    assert book.queues() == ["billing", "sales"]
    assert book.zone("billing") == zoneinfo.ZoneInfo("Europe/Berlin")
    assert book.zone("unknown") == zoneinfo.ZoneInfo("Europe/Paris")
    assert book.for_queue("billing", "chat") is book.for_queue("billing", "chat")
    assert book.for_queue("x", "chat") is book.for_queue("y", "chat")
    assert book.for_queue("billing", "chat").zone == zoneinfo.ZoneInfo("Europe/Berlin")
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        book.for_queue("billing", "fax")


def test_first_response_as_one_number_covers_every_channel() -> None:
    book = targets("defaults:\n  first_response_seconds: 15m\n")
    assert {book.for_queue("q", c).first_response_seconds for c in CHANNELS} == {900.0}


def test_duration_strings_and_numbers_in_the_file() -> None:
    book = targets(
        """\
        defaults:
          answer_target_seconds: "45"
          short_abandon_seconds: 2.5
          resolution_seconds: 1d12h
          handle_time_seconds: 90s
          service_level_goal: 1
        """
    )
    assert book.for_queue("q") == Targets(45.0, 2.5, 60.0, 1.5 * DAY, 90.0, 1.0, "UTC")


def test_merge_keys_share_settings_between_queues() -> None:
    book = targets(
        """\
        queues:
          gold: &premium
            answer_target_seconds: 10
            service_level_goal: 0.95
          platinum:
            <<: *premium
            answer_target_seconds: 5
        """
    )
    assert book.for_queue("platinum").answer_target_seconds == 5.0
    assert book.for_queue("platinum").service_level_goal == 0.95


ERRORS = [
    pytest.param(
        """\
        queues:
          billing:
            timezone: UTC
            answer_target_seconds: -3
        """,
        "targets.yaml:4: queues.billing.answer_target_seconds: expected a positive duration, "
        "got -3",
        id="negative-duration",
    ),
    pytest.param(
        """\
        defaults:
          resolution_seconds: 0
        """,
        "targets.yaml:2: defaults.resolution_seconds: expected a positive duration, got 0",
        id="zero-duration",
    ),
    pytest.param(
        """\
        defaults:
          handle_time_seconds: soon
        """,
        "targets.yaml:2: defaults.handle_time_seconds: expected a positive duration (seconds, "
        "or a string like '90s', '15m', '24h', '2d'), got 'soon'",
        id="non-numeric-duration",
    ),
    pytest.param(
        """\
        defaults:
          handle_time_seconds: [1, 2]
        """,
        "targets.yaml:2: defaults.handle_time_seconds: expected a positive duration, got a list",
        id="list-as-duration",
    ),
    pytest.param(
        """\
        defaults:
          answer_target_seconds: yes
        """,
        "targets.yaml:2: defaults.answer_target_seconds: expected a positive duration (seconds, "
        "or a string like '90s', '15m', '24h', '2d'), got yes",
        id="boolean-duration",
    ),
    pytest.param(
        """\
        defaults:
          answer_target_seconds:
        """,
        "targets.yaml:2: defaults.answer_target_seconds: expected a positive duration (seconds, "
        "or a string like '90s', '15m', '24h', '2d'), got null",
        id="null-duration",
    ),
    pytest.param(
        """\
        queues:
          sales:
            short_abandon_seconds: -1
        """,
        "targets.yaml:3: queues.sales.short_abandon_seconds: expected a non-negative duration, "
        "got -1",
        id="negative-short-abandon",
    ),
    pytest.param(
        """\
        queues:
          billing:
            answer_target_secs: 30
        """,
        "targets.yaml:3: queues.billing: unknown key 'answer_target_secs' (did you mean "
        "'answer_target_seconds'?); allowed keys: answer_target_seconds, short_abandon_seconds, "
        "first_response_seconds, resolution_seconds, handle_time_seconds, service_level_goal, "
        "timezone, survey_min_sample, channels, team",
        id="typo-in-key",
    ),
    pytest.param(
        """\
        default:
          answer_target_seconds: 30
        """,
        "targets.yaml:1: unknown key 'default' (did you mean 'defaults'?); allowed keys: "
        "defaults, queues",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """\
        defaults:
          channels: {}
        """,
        "targets.yaml:2: defaults: unknown key 'channels'; allowed keys: answer_target_seconds, "
        "short_abandon_seconds, first_response_seconds, resolution_seconds, "
        "handle_time_seconds, service_level_goal, timezone, survey_min_sample",
        id="channels-in-defaults",
    ),
    pytest.param(
        """\
        queues:
          billing:
            channels:
              chat:
                timezone: UTC
        """,
        "targets.yaml:5: queues.billing.channels.chat: unknown key 'timezone'; time zone and "
        "service-level goal are set per queue, not channel; allowed keys: "
        "answer_target_seconds, short_abandon_seconds, first_response_seconds, "
        "resolution_seconds, handle_time_seconds",
        id="timezone-per-channel",
    ),
    pytest.param(
        """\
        defaults:
          service_level_goal: 80
        """,
        "targets.yaml:2: defaults.service_level_goal: expected a ratio in (0, 1] such as 0.8 or "
        "'80%', got 80",
        id="goal-above-one",
    ),
    pytest.param(
        """\
        queues:
          a: {}
          b:
            service_level_goal: 0
        """,
        "targets.yaml:4: queues.b.service_level_goal: expected a ratio in (0, 1] such as 0.8 or "
        "'80%', got 0",
        id="goal-zero",
    ),
    pytest.param(
        """\
        defaults:
          service_level_goal: high
        """,
        "targets.yaml:2: defaults.service_level_goal: expected a ratio in (0, 1] such as 0.8 or "
        "'80%', got 'high'",
        id="goal-not-a-number",
    ),
    pytest.param(
        """\
        queues:
          billing:
            timezone: Europe/Berln
        """,
        "targets.yaml:3: queues.billing.timezone: expected an IANA time zone such as "
        "'Europe/Berlin', got 'Europe/Berln' (did you mean 'Europe/Berlin'?)",
        id="unknown-timezone",
    ),
    pytest.param(
        """\
        defaults:
          timezone: 5
        """,
        "targets.yaml:2: defaults.timezone: expected an IANA time zone such as 'Europe/Berlin', "
        "got 5",
        id="timezone-not-a-string",
    ),
    pytest.param(
        """\
        defaults:
          first_response_seconds:
            phone: 60
            fax: 60
        """,
        "targets.yaml:4: defaults.first_response_seconds: unknown channel 'fax'; expected one "
        "of phone, chat, email, social, web, sms",
        id="unknown-channel-in-first-response",
    ),
    pytest.param(
        """\
        queues:
          billing:
            channels:
              phone: {}
              pigeon: {answer_target_seconds: 5}
        """,
        "targets.yaml:5: queues.billing.channels: unknown channel 'pigeon'; expected one of "
        "phone, chat, email, social, web, sms",
        id="unknown-channel-block",
    ),
    pytest.param(
        """\
        queues:
          billing:
            channels:
              chat:
                first_response_seconds: {chat: 30}
        """,
        "targets.yaml:5: queues.billing.channels.chat.first_response_seconds: expected a "
        "positive duration, got a mapping",
        id="mapping-first-response-in-channel",
    ),
    pytest.param(
        """\
        queues:
          billing: 30
        """,
        "targets.yaml:2: queues.billing: expected a mapping with keys answer_target_seconds, "
        "short_abandon_seconds, first_response_seconds, resolution_seconds, "
        "handle_time_seconds, service_level_goal, timezone, survey_min_sample, channels, team, "
        "business_hours, holidays, wallboard_thresholds, got 30",
        id="queue-not-a-mapping",
    ),
    pytest.param(
        """\
        queues:
          - billing
          - sales
        """,
        "targets.yaml:2: queues: expected a mapping, got a list",
        id="queues-as-list",
    ),
    pytest.param(
        """\
        - billing
        """,
        "targets.yaml:1: expected a mapping with keys defaults, queues, agent_reasons, "
        "wallboard_thresholds, got a list",
        id="top-level-list",
    ),
    pytest.param(
        """\
        queues:
          billing:
            channels: chat
        """,
        "targets.yaml:3: queues.billing.channels: expected a mapping, got 'chat'",
        id="channels-not-a-mapping",
    ),
    pytest.param(
        """\
        queues:
          billing:
            answer_target_seconds: 30
          sales: {}
          billing:
            answer_target_seconds: 40
        """,
        "targets.yaml:5: queues: duplicate key 'billing' (first at line 2)",
        id="duplicate-queue",
    ),
    pytest.param(
        """\
        defaults:
          answer_target_seconds: 30
          answer_target_seconds: 40
        """,
        "targets.yaml:3: defaults: duplicate key 'answer_target_seconds' (first at line 2)",
        id="duplicate-target",
    ),
    pytest.param(
        """\
        queues:
          "": {}
        """,
        "targets.yaml:2: queues: expected a queue name of 1..64 characters, got ''",
        id="empty-queue-name",
    ),
    pytest.param(
        """\
        queues:
          billing:
            answer_target_seconds: 30
           timezone: UTC
        """,
        "targets.yaml:4: invalid YAML: while parsing a block mapping (line 2), "
        "expected <block end>, but found '<block mapping start>'",
        id="yaml-indentation",
    ),
    pytest.param(
        """\
        queues:
          billing: {answer_target_seconds: 30
          sales: {}
        """,
        "targets.yaml:3: invalid YAML:",
        id="yaml-unclosed-flow",
    ),
    pytest.param(
        """\
        defaults: {}
        ---
        queues: {}
        """,
        "targets.yaml:2: invalid YAML: expected a single document in the stream (line 1), but "
        "found another document",
        id="two-documents",
    ),
    pytest.param(
        "defaults:\n  timezone: UTC\x07\n",
        "targets.yaml:2: invalid YAML: special characters are not allowed: U+0007",
        id="control-character",
    ),
    pytest.param(
        """\
        defaults:
          answer_target_seconds: !seconds 30
        """,
        "targets.yaml:2: defaults.answer_target_seconds: expected a positive duration, got "
        "could not determine a constructor for the tag '!seconds'",
        id="unknown-tag",
    ),
    pytest.param(
        """\
        queues:
          billing:
            team: [a, b]
        """,
        "targets.yaml:3: queues.billing.team: expected a team name of 1..64 characters, got a list",
        id="team-not-a-string",
    ),
    pytest.param(
        """\
        queues:
          billing:
            team: 42
        """,
        "targets.yaml:3: queues.billing.team: expected a team name of 1..64 characters, got 42",
        id="team-a-number",
    ),
    pytest.param(
        """\
        queues:
          billing:
            channels:
              chat:
                team: x
        """,
        "targets.yaml:5: queues.billing.channels.chat: unknown key 'team'; allowed keys: ",
        id="team-per-channel",
    ),
]


def test_team_per_queue_is_optional() -> None:
    book = targets(
        """\
        queues:
          billing: {team: " Front office ", answer_target_seconds: 30}
          sales: {}
        """
    )
    assert book.team("billing") == "Front office"
    assert book.team("sales") is None
    assert book.team("unnamed") is None
    assert book.for_queue("billing").answer_target_seconds == 30


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(TargetsError) as caught:
        targets(text)
    assert str(caught.value).startswith(message), str(caught.value)
    assert caught.value.path == "targets.yaml"
    assert caught.value.line == int(message.split(":")[1])
    assert isinstance(caught.value, ConfigError)


def test_file_errors_name_the_path(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("queues:\n  billing:\n    answer_target_seconds: -3\n", encoding="utf-8")
    with pytest.raises(TargetsError, match=rf"^{path}:3: queues\.billing\.answer_target_seconds: "):
        load_targets(path)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(TargetsError) as caught:
        load_targets(str(missing))
    assert str(caught.value) == f"{missing}: targets file not found (looked at {missing})"
    assert caught.value.line is None


def test_directory_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(TargetsError, match="cannot read the targets file"):
        load_targets(tmp_path)
    binary = tmp_path / "targets.yaml"
    binary.write_bytes(b"defaults:\n  timezone: \xff\n")
    with pytest.raises(TargetsError, match="not UTF-8"):
        load_targets(binary)


def test_empty_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("", encoding="utf-8")
    book = load_targets(path)
    assert book.queues() == []
    assert book.source == str(path)
    assert book.for_queue("q") == BUILTIN_TARGETS


def test_example_file_loads() -> None:
    book = load_targets(EXAMPLE)
    assert book.queues() == ["billing", "tech-support", "sales"]
    billing_chat = book.for_queue("billing", "chat")
    assert (billing_chat.answer_target_seconds, billing_chat.first_response_seconds) == (10, 30)
    assert book.for_queue("billing", "email").first_response_seconds == 8 * HOUR
    assert book.for_queue("billing", "phone").handle_time_seconds == 8 * 60
    assert book.zone("tech-support") == zoneinfo.ZoneInfo("America/New_York")
    assert book.for_queue("tech-support", "web").first_response_seconds == 4 * HOUR
    assert book.for_queue("tech-support", "social").first_response_seconds == HOUR
    assert book.for_queue("tech-support").service_level_goal == 0.9
    assert book.for_queue("sales", "web").first_response_seconds == HOUR
    assert book.for_queue("sales").short_abandon_seconds == 3
    # The example's defaults restate the built-in ones.
    assert book.for_queue("elsewhere") == BUILTIN_TARGETS
    for channel in CHANNELS:
        assert book.for_queue("elsewhere", channel) == TargetBook.default().for_queue("x", channel)


# --------------------------------------------------------------------------------------------
# Business hours and holidays
# --------------------------------------------------------------------------------------------

_H = 3600


def test_business_calendar_layers() -> None:
    book = targets(
        """\
        defaults:
          timezone: Europe/Berlin
          business_hours:
            mon: 08:00-18:00
            tue: "08:00-12:00, 13:00-18:00"
            wed: ["13:00-18:00", "08:00-12:00"]
            thu: closed
            fri: 08:00-24:00
            sat:
          holidays: [2026-12-25, "2026-12-26"]
        queues:
          billing:
            timezone: America/New_York
          sales:
            business_hours: 24x7
            holidays: []
          night:
            business_hours:
              sun: 22:00-24:00
              mon: 00:00-06:00
        """
    )
    other = book.calendar("elsewhere")
    assert other.zone == zoneinfo.ZoneInfo("Europe/Berlin")
    assert other.weekly == (
        ((8 * _H, 18 * _H),),
        ((8 * _H, 12 * _H), (13 * _H, 18 * _H)),
        ((8 * _H, 12 * _H), (13 * _H, 18 * _H)),
        (),
        ((8 * _H, 24 * _H),),
        (),
        (),
    )
    assert other.holidays == {date(2026, 12, 25), date(2026, 12, 26)}
    billing = book.calendar("billing")  # hours and holidays inherited, its own zone
    assert (billing.zone, billing.weekly, billing.holidays) == (
        zoneinfo.ZoneInfo("America/New_York"),
        other.weekly,
        other.holidays,
    )
    assert book.calendar("sales").always_open  # 24x7 and no holidays: calendar time
    night = ((0, 6 * _H),), (), (), (), (), (), ((22 * _H, 24 * _H),)
    assert book.calendar("night").weekly == night


def test_no_business_hours_is_around_the_clock() -> None:
    assert TargetBook.default().calendar("q").always_open
    assert targets("queues: {q: {timezone: Asia/Kolkata}}").calendar("q").always_open
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    every_day = "\n".join(f"    {d}: 00:00-24:00" for d in days)
    assert targets(f"defaults:\n  business_hours:\n{every_day}\n").calendar("q").always_open


CALENDAR_ERRORS = [
    pytest.param(
        "defaults:\n  business_hours:\n    mon: 22:00-06:00\n",
        "targets.yaml:3: defaults.business_hours.mon: expected hours such as '08:00-18:00' or "
        "'08:00-12:00, 13:00-18:00', or 'closed', got '22:00-06:00': range '22:00-06:00' does not "
        "end after it starts (ranges cannot cross midnight",
        id="crosses-midnight",
    ),
    pytest.param(
        "queues:\n  b:\n    business_hours:\n      monday: 08:00-18:00\n",
        "targets.yaml:4: queues.b.business_hours: unknown key 'monday' (did you mean 'mon'?); "
        "allowed keys: mon, tue, wed, thu, fri, sat, sun",
        id="unknown-weekday",
    ),
    pytest.param(
        "defaults:\n  business_hours: {}\n",
        "targets.yaml:2: defaults.business_hours: no day has opening hours",
        id="every-day-closed",
    ),
    pytest.param(
        "defaults:\n  business_hours: 9-5\n",
        "targets.yaml:2: defaults.business_hours: expected a mapping of weekdays to hours",
        id="not-a-mapping",
    ),
    pytest.param(
        "defaults:\n  business_hours:\n    mon: [08:00-12:00, 11:00-13:00]\n",
        "targets.yaml:3: defaults.business_hours.mon: expected hours such as '08:00-18:00' or "
        "'08:00-12:00, 13:00-18:00', or 'closed', got a list: ranges overlap",
        id="overlapping-ranges",
    ),
    pytest.param(
        "defaults:\n  business_hours:\n    mon:\n      - 08:00-12:00\n      - 25:00-26:00\n",
        "targets.yaml:5: defaults.business_hours.mon: expected hours such as '08:00-18:00' or "
        "'08:00-12:00, 13:00-18:00', or 'closed', got '25:00-26:00': expected a time from 00:00 "
        "to 24:00, got '25:00'",
        id="bad-list-item-names-its-line",
    ),
    pytest.param(
        "defaults:\n  business_hours:\n    mon: 8\n",
        "targets.yaml:3: defaults.business_hours.mon: expected hours such as",
        id="number-as-hours",
    ),
    pytest.param(
        "defaults:\n  holidays: 2026-12-25\n",
        "targets.yaml:2: defaults.holidays: expected a list of ISO dates such as "
        "[2026-12-25, 2026-12-26], got 2026-12-25",
        id="holidays-not-a-list",
    ),
    pytest.param(
        "defaults:\n  holidays:\n    - 2026-12-25\n    - 2026-02-30\n",
        "targets.yaml:4: defaults.holidays: expected an ISO date such as 2026-12-25, got "
        "2026-02-30",
        id="impossible-date",
    ),
    pytest.param(
        "queues:\n  q:\n    holidays:\n      - 2026-12-25T10:00:00Z\n",
        "targets.yaml:4: queues.q.holidays: expected an ISO date such as 2026-12-25, got "
        "2026-12-25T10:00:00Z",
        id="timestamp-not-a-date",
    ),
    pytest.param(
        "queues:\n  q:\n    holidays: [christmas]\n",
        "targets.yaml:3: queues.q.holidays: expected an ISO date such as 2026-12-25, got "
        "'christmas'",
        id="word-not-a-date",
    ),
    pytest.param(
        "queues:\n  b:\n    channels:\n      chat:\n        holidays: []\n",
        "targets.yaml:5: queues.b.channels.chat: unknown key 'holidays'; business hours and "
        "holidays are set per queue, not channel",
        id="holidays-per-channel",
    ),
]


@pytest.mark.parametrize(("text", "message"), CALENDAR_ERRORS)
def test_calendar_errors_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(TargetsError) as caught:
        parse_targets(text, source="targets.yaml")
    assert str(caught.value).startswith(message), str(caught.value)
    assert caught.value.line == int(message.split(":")[1])


def test_example_file_business_hours() -> None:
    book = load_targets(EXAMPLE)
    billing = book.calendar("billing")
    assert billing.zone == zoneinfo.ZoneInfo("Europe/Berlin")
    assert billing.weekly is not None
    assert billing.weekly[4] == ((8 * _H, 12 * _H), (13 * _H, 16 * _H))
    assert billing.weekly[5:] == ((), ())
    assert date(2026, 12, 25) in billing.holidays
    assert book.calendar("sales").always_open


def test_an_event_too_large_to_forward_is_a_configuration_error() -> None:
    """A 1 MiB limit under a 1 MB producer: an accepted event the producer then refuses would
    stop the worker on every restart (the poison pill). Both settings are named."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"STREAM_MAX_EVENT_BYTES": "1048576"})
    (message,) = caught.value.errors
    assert message.startswith("STREAM_MAX_EVENT_BYTES=1048576: expected at most 934464 ")
    assert "STREAM_PRODUCER_MAX_REQUEST_BYTES=1000000" in message
    raised = Settings.from_env(
        {"STREAM_MAX_EVENT_BYTES": "1048576", "STREAM_PRODUCER_MAX_REQUEST_BYTES": "2097152"}
    )
    assert (raised.max_event_bytes, raised.producer_max_request_bytes) == (1048576, 2097152)
    assert Settings.from_env({"STREAM_MAX_EVENT_BYTES": "934464"}).max_event_bytes == 934464
    with pytest.raises(ConfigError, match="STREAM_PRODUCER_MAX_REQUEST_BYTES='65536': expected"):
        Settings.from_env({"STREAM_PRODUCER_MAX_REQUEST_BYTES": "65536"})
