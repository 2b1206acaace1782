"""The errors of every configuration input: a bad ``STREAM_*`` setting, a bad config file.

``ConfigError`` carries one message per problem (a worker reports every bad variable at once);
``ConfigFileError`` is one problem of a YAML config file, with its file and line: the targets
file (``TargetsError``), the Asterisk connector's file, the Twilio connector's file and the
webhook gateway's file each have their subclass. Standard library only.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ConfigFileError", "TargetsError"]


class ConfigError(ValueError):
    """A setting or the targets file is invalid; the message says where and what is expected.

    ``errors`` holds one message per problem (``str(error)`` is them joined by newlines).
    """

    def __init__(self, errors: str | tuple[str, ...]) -> None:
        self.errors: tuple[str, ...] = (errors,) if isinstance(errors, str) else errors
        super().__init__("\n".join(self.errors))


class ConfigFileError(ConfigError):
    """A config file is invalid: ``"<file>:<line>: <key path>: <problem>"``.

    ``path`` is the file as given, ``line`` the 1-based line (``None`` when the problem is not
    on a line, e.g. a missing file).
    """

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class TargetsError(ConfigFileError):
    """The targets file is invalid: ``"<file>:<line>: <key path>: <problem>"``."""
