"""Stray connections at a one-client server, and what to watch while they come.

Used by tests/test_server_refuses_newcomers.py and by the churn worker
(tests/server_churn.py): raw loopback sockets that connect, maybe send
junk, and end with a FIN (close) or an RST (``SO_LINGER`` (1, 0), then
close); a read-loop server that reads anything; a `Watch` that records
what would otherwise scroll past in a log (unhandled exceptions given to
the loop's exception handler, ERROR log records); and counts of the
process's file descriptors and tasks.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import struct
import typing

import tcpframe

LOCALHOST = "127.0.0.1"

# How a stray connection ends.
ENDINGS = ("rst", "junk_rst", "junk_fin")

JUNK = bytes(range(256)) * 4


async def stray_connection(port: int, ending: str) -> None:
    """Connect to ``LOCALHOST:port`` and end the connection as ``ending``
    says: ``"rst"`` resets at once; ``"junk_rst"`` sends junk, then
    resets; ``"junk_fin"`` sends junk, then closes."""
    loop = asyncio.get_running_loop()
    # A transport, not loop.sock_connect: that is slow on uvloop.
    transport, protocol = await loop.create_connection(StrayProtocol, LOCALHOST, port)
    if ending.startswith("junk"):
        transport.write(JUNK)
    if ending.endswith("rst"):
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    await protocol.lost


class StrayProtocol(asyncio.Protocol):
    """Ignores what arrives; ``lost`` is done when the connection is."""

    def __init__(self) -> None:
        self.lost = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(None)


async def stray_burst(port: int, count: int, endings: typing.Sequence[str] = ENDINGS) -> None:
    """Make ``count`` stray connections at once, cycling through ``endings``."""
    await asyncio.gather(*(stray_connection(port, endings[i % len(endings)]) for i in range(count)))


async def wait_until(predicate: typing.Callable[[], bool], timeout: float = 5) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


class DiscardingReadLoopServer(tcpframe.OneClientReadLoopServer):
    """Reads whatever arrives (junk too), keeping only the last bytes."""

    received = b""

    async def read_and_dispatch(self) -> None:
        self.received = (self.received + await self.read(4096))[-100:]


async def round_trip(server: tcpframe.OneClientServer, client: tcpframe.Client, text: str, timeout: float = 5) -> None:
    """Send ``text`` from ``client`` to ``server`` and back."""
    await client.write_str(text)
    if isinstance(server, DiscardingReadLoopServer):
        await wait_until(lambda: server.received.endswith(text.encode() + b"\r\n"), timeout)
    else:
        assert await asyncio.wait_for(server.read_str(), timeout) == text
    await server.write_str(text)
    assert await asyncio.wait_for(client.read_str(), timeout) == text


class Callback:
    """A connect_callback that records ``connected`` at each call, and
    then (if ``awaiting``) gives the loop a few turns before returning.
    ``returned`` counts the calls that returned."""

    def __init__(self, awaiting: bool) -> None:
        self.states: list[bool] = []
        self.returned = 0
        self.awaiting = awaiting

    async def __call__(self, server: tcpframe.OneClientServer) -> None:
        self.states.append(server.connected)
        if self.awaiting:
            await asyncio.sleep(0.001)
        self.returned += 1


class Watch(logging.Handler):
    """Record the loop's unhandled exceptions and the ERROR log records of
    ``logger`` (and its children) from construction until `stop`.

    Attributes
    ----------
    unhandled : `list` [`dict`]
        The contexts given to the loop's exception handler, e.g. for a
        "Task exception was never retrieved".
    errors : `list` [`logging.LogRecord`]
        Log records at ERROR or above.
    """

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.ERROR)
        self.unhandled: list[dict[str, typing.Any]] = []
        self.errors: list[logging.LogRecord] = []
        self._logger = logger
        self._loop = asyncio.get_running_loop()
        self._previous_handler = self._loop.get_exception_handler()
        self._loop.set_exception_handler(lambda loop, context: self.unhandled.append(context))
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(record)

    def stop(self) -> None:
        """Collect garbage (an unretrieved task exception is reported when
        its task is freed), then stop recording."""
        gc.collect()
        self._logger.removeHandler(self)
        self._loop.set_exception_handler(self._previous_handler)

    def report(self) -> list[str]:
        """What was recorded, one line each."""
        lines = [f"unhandled: {context.get('message')}: {context.get('exception')!r}" for context in self.unhandled]
        lines += [f"{record.levelname}: {record.getMessage()}" for record in self.errors]
        return lines


def count_fds() -> int:
    """Number of this process's open file descriptors."""
    return len(os.listdir("/proc/self/fd"))


def other_tasks() -> set[asyncio.Task[typing.Any]]:
    """The loop's tasks other than the caller's."""
    return asyncio.all_tasks() - {asyncio.current_task()}


def alternates(states: typing.Sequence[bool]) -> bool:
    """True if ``states`` is True, False, True, ... (or empty)."""
    return all(state is (index % 2 == 0) for index, state in enumerate(states))
