"""Secured Kafka and Redis: secrets, and the settings turned into client arguments.

This module owns:

* ``Secret``: a password or key pass-phrase whose ``repr``/``str`` is masked, so that a secret
  in a ``Settings``, a log record, an exception or ``doctor`` output never shows its value;
  ``reveal()`` is the one way to the text, called only where a client takes it.
* ``problems()``: the checks across the security settings (a SASL protocol needs a user name and
  a password, files must be readable, ...), one message per problem naming its variable; called
  by ``Settings.__post_init__``.
* The one translation of the settings into client arguments, used by every client the project
  creates: ``aiokafka_options()`` (producers, consumers, admin and metadata clients),
  ``faust_credentials()`` (the Faust app's ``broker_credentials``), ``redis_options()`` (the
  worker's snapshot writer, the wallboard's reader, ``doctor``).
* ``check_access()``: the worker's and the wallboard's check at start. Refused credentials or a
  failed TLS handshake raise ``AccessError`` with a message saying what to fix (the command
  exits non-zero, once, rather than Faust reconnecting forever); an unreachable broker or Redis
  is not an error here (it may come up later).

Secrets come from ``STREAM_*_PASSWORD`` or, preferably, ``STREAM_*_PASSWORD_FILE`` (read when a
client is made, so a rotated file is picked up on restart). Nothing here logs a secret, and
``redact_client_logs()`` keeps aiokafka's DEBUG log of SASL requests (the PLAIN password in
clear) out of the logs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from stream.config import Settings

__all__ = [
    "KAFKA_PROTOCOLS",
    "SASL_MECHANISMS",
    "AccessError",
    "Secret",
    "aiokafka_options",
    "check_access",
    "check_kafka",
    "check_redis",
    "faust_credentials",
    "problems",
    "read_secret",
    "redact_client_logs",
    "redact_url",
    "redis_options",
]

KAFKA_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
MASK: Final = "********"


class Secret:
    """A secret text: shown as ``********`` everywhere; ``reveal()`` gives the text."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("a Secret holds a str")
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for handing to a client."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> Any:  # pickling keeps the value (multiprocessing), never shows it
        return (Secret, (self._value,))


class AccessError(RuntimeError):
    """Kafka or Redis refused the credentials, or the TLS handshake failed; the message says
    what to fix and never holds a secret."""


def redact_url(url: str) -> str:
    """``url`` with its user info's password (``scheme://user:pass@host``) shown as ``********``
    (a lone ``scheme://secret@host`` is masked whole)."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return url
    userinfo, _, host = authority.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{MASK}" if colon else MASK
    return f"{scheme}{sep}{shown}@{host}{slash}{path}"


def read_secret(value: Secret | None, path: str | None) -> Secret | None:
    """The secret given directly, or the first line of the file at ``path`` (without its line
    ending); ``None`` when neither is set. Raises ``OSError`` for an unreadable file."""
    if path is not None:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        return Secret(text.splitlines()[0] if text else "")
    return value


def _readable(variable: str, path: str | None, errors: list[str]) -> None:
    if path is None:
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        errors.append(f"{variable}={path!r}: cannot read the file ({error.strerror or error})")


def problems(settings: Settings) -> list[str]:
    """Every problem across the security settings, one message each, naming the variables."""
    s = settings
    errors: list[str] = []
    sasl = s.kafka_security_protocol.startswith("SASL_")
    tls = s.kafka_security_protocol.endswith("SSL")
    for name in ("kafka_sasl_password", "kafka_ssl_key_password", "redis_password"):
        if getattr(s, name) is not None and getattr(s, f"{name}_file") is not None:
            errors.append(
                f"STREAM_{name.upper()} and STREAM_{name.upper()}_FILE are both set: "
                "expected one of them (the file is preferred)"
            )
        _readable(f"STREAM_{name.upper()}_FILE", getattr(s, f"{name}_file"), errors)
    if sasl:
        if s.kafka_sasl_username is None:
            errors.append(
                f"STREAM_KAFKA_SASL_USERNAME: expected a user name with "
                f"STREAM_KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol}"
            )
        if s.kafka_sasl_password is None and s.kafka_sasl_password_file is None:
            errors.append(
                "STREAM_KAFKA_SASL_PASSWORD_FILE (or STREAM_KAFKA_SASL_PASSWORD): expected a "
                f"password with STREAM_KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol}"
            )
    else:
        for name in ("kafka_sasl_username", "kafka_sasl_password", "kafka_sasl_password_file"):
            if getattr(s, name) is not None:
                errors.append(
                    f"STREAM_{name.upper()} is set but STREAM_KAFKA_SECURITY_PROTOCOL="
                    f"{s.kafka_security_protocol}: expected SASL_PLAINTEXT or SASL_SSL with it"
                )
    tls_files = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
    for name in tls_files:
        _readable(f"STREAM_{name.upper()}", getattr(s, name), errors)
    if not tls:
        for name in (*tls_files, "kafka_ssl_key_password", "kafka_ssl_key_password_file"):
            if getattr(s, name) is not None:
                errors.append(
                    f"STREAM_{name.upper()} is set but STREAM_KAFKA_SECURITY_PROTOCOL="
                    f"{s.kafka_security_protocol}: expected SSL or SASL_SSL with it"
                )
    if s.kafka_ssl_keyfile is not None and s.kafka_ssl_certfile is None:
        errors.append(
            "STREAM_KAFKA_SSL_KEYFILE is set: expected STREAM_KAFKA_SSL_CERTFILE (the client "
            "certificate) with it"
        )
    if s.redis_url is None:
        for name in ("redis_password", "redis_password_file", "redis_ssl_cafile"):
            if getattr(s, name) is not None:
                errors.append(f"STREAM_{name.upper()} is set: expected STREAM_REDIS_URL with it")
    elif s.redis_ssl_cafile is not None and not s.redis_url.startswith("rediss://"):
        errors.append(
            f"STREAM_REDIS_SSL_CAFILE is set: expected a rediss:// STREAM_REDIS_URL, got "
            f"{redact_url(s.redis_url)!r}"
        )
    _readable("STREAM_REDIS_SSL_CAFILE", s.redis_ssl_cafile, errors)
    return errors


# --------------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------------


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_certfile is not None:
        key_password = read_secret(
            settings.kafka_ssl_key_password, settings.kafka_ssl_key_password_file
        )
        context.load_cert_chain(
            settings.kafka_ssl_certfile,
            settings.kafka_ssl_keyfile,
            password=key_password.reveal() if key_password is not None else None,
        )
    return context


class _SaslRedaction(logging.Filter):
    """aiokafka logs every request and response at DEBUG, SaslAuthenticate's bytes included
    (the PLAIN password in clear): those arguments are replaced by their type's name."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            type(arg).__name__.startswith(_SASL_STRUCTS) for arg in record.args
        ):
            record.args = tuple(
                f"<{type(arg).__name__}: redacted>"
                if type(arg).__name__.startswith(_SASL_STRUCTS)
                else arg
                for arg in record.args
            )
        return True


_SASL_STRUCTS: Final = ("SaslAuthenticate", "SaslHandShake")
_REDACTION: Final = _SaslRedaction()


def redact_client_logs() -> None:
    """Keep SASL tokens out of aiokafka's DEBUG log (idempotent; done by ``aiokafka_options``)."""
    logger = logging.getLogger("aiokafka.conn")
    if _REDACTION not in logger.filters:
        logger.addFilter(_REDACTION)


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin, ``AIOKafkaClient``):
    the security protocol, the TLS context and the SASL mechanism and credentials."""
    redact_client_logs()
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = _ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = read_secret(settings.kafka_sasl_password, settings.kafka_sasl_password_file)
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password.reveal() if password is not None else None
    return options


def faust_credentials(settings: Settings) -> Any:
    """The Faust app's ``broker_credentials`` (``None`` for PLAINTEXT)."""
    import faust

    options = aiokafka_options(settings)
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(options["ssl_context"])
    return faust.SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        mechanism=options["sasl_mechanism"],
        ssl_context=options.get("ssl_context"),
    )


def _kafka_fix(settings: Settings) -> str:
    if settings.kafka_security_protocol.startswith("SASL_"):
        return (
            f"check STREAM_KAFKA_SASL_USERNAME={settings.kafka_sasl_username!r}, the password "
            f"(STREAM_KAFKA_SASL_PASSWORD_FILE) and STREAM_KAFKA_SASL_MECHANISM="
            f"{settings.kafka_sasl_mechanism}"
        )
    return "check STREAM_KAFKA_SECURITY_PROTOCOL and the broker's listener"


async def check_kafka(settings: Settings, timeout: float = 10.0) -> bool:
    """Connect to each bootstrap broker in turn until one accepts (TLS handshake and SASL
    authentication included). True: one accepted; False: none was reachable (not an error).
    Raises ``AccessError`` when a broker refused the credentials or the TLS handshake."""
    from aiokafka import errors as kafka_errors
    from aiokafka.conn import create_conn

    options = aiokafka_options(settings)
    refused = (
        kafka_errors.SaslAuthenticationFailed,
        kafka_errors.AuthenticationFailedError,
        kafka_errors.UnsupportedSaslMechanismError,
        kafka_errors.IllegalSaslStateError,
    )
    for address in settings.bootstrap_servers.split(","):
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        where = f"{host}:{port}"
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **options),
                timeout,
            )
        except ssl.SSLError as error:
            raise AccessError(
                f"TLS handshake with the Kafka broker {where} failed: "
                f"{getattr(error, 'verify_message', None) or error.reason or error}; check "
                "STREAM_KAFKA_SSL_CAFILE (the CA that signed the broker's certificate), the "
                "client certificate and STREAM_KAFKA_SECURITY_PROTOCOL"
            ) from None
        except refused as error:
            raise AccessError(
                f"the Kafka broker {where} refused {settings.kafka_sasl_mechanism} "
                f"authentication ({_error_text(error)}); {_kafka_fix(settings)}"
            ) from None
        except (KeyError, ValueError, AssertionError) as error:
            # aiokafka's SCRAM client fails this way when the server's final message is an
            # error ("e=unknown-user", "e=invalid-proof": KeyError 'v') or its signature is
            # wrong (ValueError).
            what = (
                "the server ended the exchange with an error: unknown user or wrong password"
                if isinstance(error, KeyError)
                else f"{error}"
            )
            raise AccessError(
                f"the Kafka broker {where} refused {settings.kafka_sasl_mechanism} "
                f"authentication ({what}); {_kafka_fix(settings)}"
            ) from None
        except kafka_errors.KafkaConnectionError as error:
            if settings.kafka_security_protocol == "PLAINTEXT":
                continue  # closed on us: a broker going down, perhaps; try the next one
            # Reached, then closed during the TLS or SASL exchange: brokers do this to a
            # mechanism they do not offer and to refused credentials (Tansu), or to a client
            # speaking the wrong protocol to the listener.
            raise AccessError(
                f"the Kafka broker {where} closed the connection during the "
                f"{settings.kafka_security_protocol} exchange ({_error_text(error)}): "
                f"{_closed_reason(settings)}; {_kafka_fix(settings)}"
            ) from None
        except (OSError, TimeoutError, kafka_errors.KafkaError):
            continue  # not reachable: try the next one
        conn.close()
        return True
    return False


def _closed_reason(settings: Settings) -> str:
    if settings.kafka_security_protocol.startswith("SASL_"):
        return (
            f"the broker may not offer {settings.kafka_sasl_mechanism}, or refused the credentials"
        )
    return "the listener may not be a TLS one (check STREAM_KAFKA_SECURITY_PROTOCOL)"


def _error_text(error: BaseException) -> str:
    text = str(error)
    if not text or "<AIOKafkaConnection" in text:
        return type(error).__name__
    return text if type(error).__name__ in text else f"{type(error).__name__}: {text}"


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


def redis_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``redis.Redis.from_url(settings.redis_url, ...)``: the password
    (from the file) and the CA of a ``rediss://`` URL. A password in the URL itself wins."""
    options: dict[str, Any] = {}
    password = read_secret(settings.redis_password, settings.redis_password_file)
    if password is not None:
        options["password"] = password.reveal()
    if settings.redis_ssl_cafile is not None:
        options["ssl_ca_certs"] = settings.redis_ssl_cafile
    return options


async def check_redis(url: str, options: Mapping[str, Any], timeout: float = 5.0) -> bool:
    """Ping Redis at ``url``. True: answered; False: unreachable (not an error here).
    Raises ``AccessError`` for refused credentials or a failed TLS handshake."""
    import redis.asyncio as aioredis
    from redis import exceptions

    client = aioredis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, **options
    )
    where = redact_url(url)
    try:
        await client.ping()
    except (exceptions.AuthenticationError, exceptions.AuthenticationWrongNumberOfArgsError):
        if "password" not in options and redact_url(url) == url:
            raise AccessError(
                f"Redis at {where} needs a password; set STREAM_REDIS_PASSWORD_FILE (or put it "
                "in STREAM_REDIS_URL)"
            ) from None
        raise AccessError(
            f"Redis at {where} refused the password; check STREAM_REDIS_PASSWORD_FILE (or the "
            "password in STREAM_REDIS_URL)"
        ) from None
    except exceptions.ResponseError as error:
        if "NOAUTH" in str(error) or "WRONGPASS" in str(error):
            raise AccessError(
                f"Redis at {where} needs a password ({error}); set STREAM_REDIS_PASSWORD_FILE "
                "or put it in STREAM_REDIS_URL"
            ) from None
        raise
    except exceptions.ConnectionError as error:
        cause = error.__cause__ or error.__context__
        if isinstance(cause, ssl.SSLError) or "SSL" in str(error):
            raise AccessError(
                f"TLS handshake with Redis at {where} failed ({error}); check "
                "STREAM_REDIS_SSL_CAFILE and that the URL is rediss://"
            ) from None
        return False
    except (OSError, TimeoutError):
        return False
    finally:
        await client.aclose()
    return True


def check_access(settings: Settings, *, kafka: bool = True, redis: bool = True) -> None:
    """The check at start: raises ``AccessError`` when Kafka or Redis refuses us (see
    ``check_kafka``, ``check_redis``); unreachable ones are left to the clients' retries."""

    async def both() -> None:
        if kafka:
            await check_kafka(settings)
        if redis and settings.redis_url is not None:
            await check_redis(settings.redis_url, redis_options(settings))

    asyncio.run(both())
