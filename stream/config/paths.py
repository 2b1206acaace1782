"""Directories and files named by settings: made when missing, checked before the work starts.

A path setting is checked once, at start, so a bad one is a clear ``ConfigError`` naming its
variable instead of a ``FileNotFoundError`` from deep inside Faust minutes later.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from stream.config import ENV_PREFIX, ConfigError

__all__ = ["writable_directory", "writable_file_parent"]


def _variable(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def writable_directory(path: str | os.PathLike[str], setting: str) -> Path:
    """``path`` as a directory this process can write, made with its parents when missing.

    Raises ``ConfigError`` naming ``STREAM_<SETTING>`` when it cannot be made, is not a
    directory or cannot be written.
    """
    directory = Path(path)
    variable = _variable(setting)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(
            f"{variable}={os.fspath(path)!r}: expected a directory, but it is a file"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"{variable}={os.fspath(path)!r}: cannot create the directory "
            f"({error.strerror or error}); set {variable} to a writable directory"
        ) from None
    try:
        # The real test: create a file (access() can be wrong for root, ACLs and read-only mounts).
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        reason = "not writable" if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else ""
        raise ConfigError(
            f"{variable}={os.fspath(path)!r}: the directory is {reason or 'unusable'} "
            f"({error.strerror or error}); set {variable} to a writable directory"
        ) from None
    return directory


def writable_file_parent(path: str | os.PathLike[str], what: str) -> Path:
    """The directory that will hold the file ``path``, made with its parents when missing.

    ``what`` names the file in the error (``"--record FILE"``). Raises ``ConfigError``.
    """
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"{what}={os.fspath(path)!r}: cannot create its directory {os.fspath(parent)!r} "
            f"({error.strerror or error})"
        ) from None
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{what}={os.fspath(path)!r}: its directory is not writable")
    return parent
