"""The security settings: secrets never shown, every problem named, the client arguments."""

from __future__ import annotations

import logging
import pickle
import ssl
from pathlib import Path

import faust
import pytest

from stream import doctor
from stream.cli.main import main
from stream.config import ConfigError, Settings
from stream.config.secrets import Secret, problems, read_secret, redact_url
from stream.config.security import aiokafka_options, faust_credentials, redis_options
from stream.dev.processes import find_free_port

SECRET = "hunter2-very-secret"


def secret_file(tmp_path: Path, text: str = SECRET, name: str = "secret") -> str:
    path = tmp_path / name
    path.write_text(text + "\n")
    return str(path)


def errors_of(**env: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    return caught.value.errors


def test_a_secret_is_masked_everywhere_but_reveal() -> None:
    s = Secret(SECRET)
    record = logging.LogRecord("stream", logging.INFO, __file__, 1, "%s %r", (s, s), None)
    logged = logging.Formatter().format(record)
    shown = [repr(s), str(s), f"{s}", f"{s!r}", f"{s:>30}", logged, str([s]), str({"k": s})]
    assert all(SECRET not in text for text in shown)
    assert repr(s) == "Secret('********')" and str(s) == "********"
    assert s.reveal() == SECRET
    assert s == Secret(SECRET) and s != Secret("other") and s != SECRET
    assert hash(s) == hash(Secret(SECRET))
    assert pickle.loads(pickle.dumps(s)).reveal() == SECRET
    assert Secret(s).reveal() == SECRET


def test_settings_hold_secrets_masked_and_read_files_at_use(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "STREAM_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "STREAM_KAFKA_SASL_MECHANISM": "scram-sha-512",
            "STREAM_KAFKA_SASL_USERNAME": "kpi",
            "STREAM_KAFKA_SASL_PASSWORD": SECRET,
            "STREAM_REDIS_URL": "rediss://127.0.0.1:6380/0",
            "STREAM_REDIS_PASSWORD_FILE": secret_file(tmp_path, "redis-" + SECRET),
        }
    )
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_password == Secret(SECRET)
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    options = aiokafka_options(settings)
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "kpi",
        "sasl_plain_password": SECRET,
    }
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname is True
    assert redis_options(settings) == {"password": "redis-" + SECRET}


def test_a_password_file_is_read_each_time_a_client_is_made(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "first\nignored second line")
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="kpi",
        kafka_sasl_password_file=path,
    )
    assert aiokafka_options(settings)["sasl_plain_password"] == "first"
    Path(path).write_text("rotated\r\n")
    assert aiokafka_options(settings)["sasl_plain_password"] == "rotated"
    assert read_secret(None, None) is None
    assert read_secret(Secret("x"), None) == Secret("x")


def test_plaintext_is_the_default_and_needs_nothing() -> None:
    settings = Settings()
    assert aiokafka_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None
    assert redis_options(settings) == {}


def test_faust_gets_the_same_credentials(tmp_path: Path) -> None:
    sasl = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="kpi",
        kafka_sasl_password_file=secret_file(tmp_path),
        kafka_ssl_check_hostname=False,
    )
    credentials = faust_credentials(sasl)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("kpi", SECRET)
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.ssl_context is not None
    assert credentials.ssl_context.check_hostname is False
    assert SECRET not in repr(credentials)
    plain = faust_credentials(sasl.replace(kafka_security_protocol="SASL_PLAINTEXT"))
    assert plain.protocol.value == "SASL_PLAINTEXT" and plain.ssl_context is None
    tls = faust_credentials(Settings(kafka_security_protocol="SSL"))
    assert isinstance(tls, faust.SSLCredentials)
    assert tls.protocol.value == "SSL"


def test_every_security_problem_is_named_at_once(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    assert errors_of(STREAM_KAFKA_SECURITY_PROTOCOL="SASL_SSL") == (
        "STREAM_KAFKA_SASL_USERNAME: expected a user name with "
        "STREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        "STREAM_KAFKA_SASL_PASSWORD_FILE (or STREAM_KAFKA_SASL_PASSWORD): expected a password "
        "with STREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
    )
    assert errors_of(
        STREAM_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        STREAM_KAFKA_SASL_USERNAME="kpi",
        STREAM_KAFKA_SASL_PASSWORD=SECRET,
        STREAM_KAFKA_SASL_PASSWORD_FILE=missing,
    ) == (
        "STREAM_KAFKA_SASL_PASSWORD and STREAM_KAFKA_SASL_PASSWORD_FILE are both set: expected "
        "one of them (the file is preferred)",
        f"STREAM_KAFKA_SASL_PASSWORD_FILE={missing!r}: cannot read the file (No such file or "
        "directory)",
    )
    assert errors_of(
        STREAM_KAFKA_SASL_USERNAME="kpi",
        STREAM_KAFKA_SASL_PASSWORD=SECRET,
        STREAM_KAFKA_SSL_KEYFILE=secret_file(tmp_path, "key"),
    ) == (
        "STREAM_KAFKA_SASL_USERNAME is set but STREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT: "
        "expected SASL_PLAINTEXT or SASL_SSL with it",
        "STREAM_KAFKA_SASL_PASSWORD is set but STREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT: "
        "expected SASL_PLAINTEXT or SASL_SSL with it",
        "STREAM_KAFKA_SSL_KEYFILE is set but STREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT: "
        "expected SSL or SASL_SSL with it",
        "STREAM_KAFKA_SSL_KEYFILE is set: expected STREAM_KAFKA_SSL_CERTFILE (the client "
        "certificate) with it",
    )
    assert errors_of(
        STREAM_REDIS_URL=f"redis://kpi:{SECRET}@127.0.0.1:6379/0",
        STREAM_REDIS_SSL_CAFILE=secret_file(tmp_path, "ca"),
    ) == (
        "STREAM_REDIS_SSL_CAFILE is set: expected a rediss:// STREAM_REDIS_URL, got "
        "'redis://kpi:********@127.0.0.1:6379/0'",
    )
    assert errors_of(STREAM_REDIS_PASSWORD=SECRET) == (
        "STREAM_REDIS_PASSWORD is set: expected STREAM_REDIS_URL with it",
    )
    assert errors_of(
        STREAM_KAFKA_SECURITY_PROTOCOL="TLS", STREAM_KAFKA_SASL_MECHANISM="GSSAPI"
    ) == (
        "STREAM_KAFKA_SECURITY_PROTOCOL='TLS': expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, "
        "SASL_SSL",
        "STREAM_KAFKA_SASL_MECHANISM='GSSAPI': expected one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
    )
    assert problems(Settings()) == []


def test_a_bad_redis_url_is_reported_without_its_password() -> None:
    (error,) = errors_of(STREAM_REDIS_URL=f"http://kpi:{SECRET}@cache:6379")
    assert error == (
        "STREAM_REDIS_URL='http://kpi:********@cache:6379': expected a Redis URL (redis://, "
        "rediss:// or unix://)"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (f"redis://kpi:{SECRET}@cache:6379/0", "redis://kpi:********@cache:6379/0"),
        (f"rediss://:{SECRET}@cache:6380", "rediss://:********@cache:6380"),
        (f"redis://{SECRET}@cache", "redis://********@cache"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("no scheme@host", "no scheme@host"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_doctor_never_shows_a_secret(tmp_path: Path) -> None:
    closed = find_free_port()
    env = {
        "STREAM_BROKER_URL": f"kafka://127.0.0.1:{closed}",
        "STREAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "STREAM_KAFKA_SASL_USERNAME": "kpi",
        "STREAM_KAFKA_SASL_PASSWORD": SECRET,
        "STREAM_REDIS_URL": f"redis://kpi:{SECRET}@127.0.0.1:{closed}/0",
        "STREAM_DATA_DIR": str(tmp_path / "data"),
    }
    findings = doctor.check_all(env)
    broker = next(f for f in findings if f.name == "broker")
    redis = next(f for f in findings if f.name == "redis")
    assert not broker.ok and broker.detail.startswith(
        f"kafka://127.0.0.1:{closed} (SASL_PLAINTEXT): "
    )
    assert not redis.ok and redis.detail.startswith(f"redis://***@127.0.0.1:{closed}/0: ")
    assert all(SECRET not in f"{f}" for f in findings)


def test_a_configuration_error_never_shows_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAM_KAFKA_SASL_PASSWORD", SECRET)
    monkeypatch.setenv("STREAM_REDIS_URL", f"ftp://kpi:{SECRET}@cache")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("configuration error: STREAM_REDIS_URL='ftp://kpi:********@cache'")
    assert SECRET not in err


def test_aiokafka_debug_log_of_sasl_requests_is_redacted() -> None:
    from aiokafka.protocol.admin import SaslAuthenticateRequest_v1, SaslHandShakeRequest_v1

    aiokafka_options(Settings())  # every client's options install the redaction
    logger = logging.getLogger("aiokafka.conn")
    token = b"kpi\x00kpi\x00" + SECRET.encode()
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Keep()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("Request to %s:%d %d: %s", "b1", 9092, 7, SaslAuthenticateRequest_v1(token))
        logger.debug("Request to %s:%d %d: %s", "b1", 9092, 6, SaslHandShakeRequest_v1("PLAIN"))
        logger.debug("Request to %s:%d %d: %s", "b1", 9092, 8, "MetadataRequest_v1(...)")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert seen == [
        "Request to b1:9092 7: <SaslAuthenticateRequest_v1: redacted>",
        "Request to b1:9092 6: <SaslHandShakeRequest_v1: redacted>",
        "Request to b1:9092 8: MetadataRequest_v1(...)",
    ]
