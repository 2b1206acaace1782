"""Secured Kafka and Redis: the settings turned into client arguments, and the access checks.

This module owns (secrets themselves and the checks across the security settings are
``stream.config.secrets``):

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

from stream.config.secrets import read_secret, redact_url

if TYPE_CHECKING:
    from stream.config import Settings

__all__ = [
    "AccessError",
    "aiokafka_options",
    "check_access",
    "check_kafka",
    "check_redis",
    "faust_credentials",
    "redact_client_logs",
    "redis_options",
]


class AccessError(RuntimeError):
    """Kafka or Redis refused the credentials, or the TLS handshake failed; the message says
    what to fix and never holds a secret."""


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
