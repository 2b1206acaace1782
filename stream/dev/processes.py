"""Child processes of the dev part and the ports they listen on: ``find_free_port``,
``port_is_free`` and ``die_with_parent`` (the embedded broker, its object store and the embedded
Redis are started with it, so none outlives the process that started it). Standard library only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import socket
import sys
from collections.abc import Callable

__all__ = ["die_with_parent", "find_free_port", "port_is_free"]

_HOST = "127.0.0.1"


def find_free_port(host: str = _HOST) -> int:
    """Return a TCP port that was free a moment ago (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As Tansu binds: connections of a broker that just stopped (TIME_WAIT) do not keep
        # its port from a new one on the same port; only a listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _make_die_with_parent() -> Callable[[], None] | None:
    """Build a ``preexec_fn`` that asks Linux to SIGTERM the child when its parent dies.

    libc is resolved here, in the parent, so the forked child only makes one foreign call.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    try:
        prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def _preexec() -> None:
        prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)

    return _preexec


die_with_parent: Callable[[], None] | None = _make_die_with_parent()
"""``preexec_fn`` for child processes that must not outlive this one (Linux only, else None).

Note that Linux delivers the signal when the *thread* that started the child exits, so start
children from the main thread.
"""
