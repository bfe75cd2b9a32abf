"""Argument types shared by tcpframe's command-line tools (for `argparse`)."""

from __future__ import annotations

__all__ = ["host_and_port", "port_number", "stop_on_signals"]

import asyncio
import contextlib
import signal
from collections.abc import Iterator


def port_number(text: str) -> int:
    """Parse a TCP port number (0-65535).

    Raises
    ------
    ValueError
        If ``text`` is not an integer in 0-65535.
    """
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not in 0-65535")
    return port


def host_and_port(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT``, with an IPv6 host in brackets (``[::1]:5000``).

    Returns
    -------
    host, port : `str`, `int`
        The host (without brackets) and the port.

    Raises
    ------
    ValueError
        If there is no host or no valid port.
    """
    host, separator, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not separator or not host:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host, port_number(port)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """Set the event yielded on SIGINT (Ctrl-C) or SIGTERM, instead of raising.

    Lets a tool running in an event loop stop cleanly; the signals'
    handlers are removed on exit.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
