"""What the configuration knows of security: secrets, and the checks across the security settings.

This module owns:

* ``Secret``: a password or key pass-phrase whose ``repr``/``str`` is masked, so that a secret
  in a ``Settings``, a log record, an exception or ``doctor`` output never shows its value;
  ``reveal()`` is the one way to the text, called only where a client takes it;
* ``read_secret`` (a secret given directly or the first line of its file) and ``redact_url``
  (a URL with its password masked);
* ``KAFKA_PROTOCOLS`` and ``SASL_MECHANISMS``, the values the settings accept;
* ``SecurityFields``: the security settings ``problems()`` reads, as a protocol that
  ``Settings`` satisfies (so this module does not import the settings module that imports it);
* ``problems()``: the checks across the security settings (a SASL protocol needs a user name and
  a password, files must be readable, ...), one message per problem naming its variable; called
  by ``Settings.__post_init__``.

The clients' side (the settings turned into client arguments, the access checks at start) is
``stream.config.security``. Standard library only.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

__all__ = [
    "KAFKA_PROTOCOLS",
    "MASK",
    "SASL_MECHANISMS",
    "Secret",
    "SecurityFields",
    "problems",
    "read_secret",
    "redact_url",
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


class SecurityFields(Protocol):
    """The security settings ``problems()`` reads (each a field of ``Settings``)."""

    @property
    def kafka_security_protocol(self) -> str: ...
    @property
    def kafka_sasl_username(self) -> str | None: ...
    @property
    def kafka_sasl_password(self) -> Secret | None: ...
    @property
    def kafka_sasl_password_file(self) -> str | None: ...
    @property
    def kafka_ssl_cafile(self) -> str | None: ...
    @property
    def kafka_ssl_certfile(self) -> str | None: ...
    @property
    def kafka_ssl_keyfile(self) -> str | None: ...
    @property
    def kafka_ssl_key_password(self) -> Secret | None: ...
    @property
    def kafka_ssl_key_password_file(self) -> str | None: ...
    @property
    def redis_url(self) -> str | None: ...
    @property
    def redis_password(self) -> Secret | None: ...
    @property
    def redis_password_file(self) -> str | None: ...
    @property
    def redis_ssl_cafile(self) -> str | None: ...


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


def problems(settings: SecurityFields) -> list[str]:
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
