"""Module functions that work on asyncio streams and on tcpframe's own
reader and writer."""

__all__ = [
    "KEEPALIVE_INTERVAL",
    "KEEPALIVE_PROBES",
    "KEEPALIVE_TIME",
    "close_stream_writer",
    "current_tai",
    "read_into",
    "set_socket_options",
    "write_from",
]

import asyncio
import ctypes
import socket
import time
import typing

from .._kernels import structs
from ..constants import KEEPALIVE_INTERVAL, KEEPALIVE_PROBES, KEEPALIVE_TIME
from ..stream.reader import FrameReader
from ..stream.writer import FrameWriter

# TAI - UTC (s): 37 since the leap second at the end of 2016; IERS has
# announced none since.
TAI_MINUS_UTC = 37.0

# Address families whose stream sockets are TCP.
TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)

# close_stream_writer gives up on unsent bytes, and aborts the connection,
# once the peer has accepted none of them for this long (s).
CLOSE_STALL_TIMEOUT = 5.0


async def close_stream_writer(writer: asyncio.StreamWriter | FrameWriter) -> None:
    """Close a stream writer and wait until it is closed.

    Safe to call more than once, and never raises for the way the
    connection died: the exception it was lost with, whatever it is (a
    `ConnectionError`; another `OSError`, such as uvloop's ``ENOTCONN``
    after a failed ``write_eof``, ``ETIMEDOUT``, an `ssl.SSLError` of a
    TLS shutdown that was not clean, or a timed-out TLS shutdown; or what
    failed a write, as asyncio's "Fatal write error" reports), is
    swallowed here. The reads and writes that met it raised it.
    `asyncio.CancelledError` is not swallowed.

    Bytes still unsent are sent first, as long as the peer keeps accepting
    them; a peer that accepts none for `CLOSE_STALL_TIMEOUT` seconds (it
    stopped reading) gets the connection aborted instead, so that closing
    never hangs. Over TLS the TLS shutdown's own timeout bounds the wait
    instead: ``ssl_shutdown_timeout``, 30 s unless the connection was made
    with another.

    Parameters
    ----------
    writer : `asyncio.StreamWriter` or `FrameWriter`
        The writer to close.
    """
    try:
        transport = writer.transport
        # A FrameWriter's close is safe on a closing transport. An asyncio
        # StreamWriter's is not over TLS: the transport, closed again,
        # drops its protocol (and then fails get_write_buffer_size).
        if isinstance(writer, FrameWriter) or not transport.is_closing():
            writer.close()
        # Over TLS, what the TLS layer has passed to the TCP transport under
        # it is not counted, so a stalled peer cannot be told from a slow one.
        if transport.get_extra_info("sslcontext") is not None or not transport.get_write_buffer_size():
            await _wait_closed(writer)
            return
        closed = asyncio.ensure_future(_wait_closed(writer))
        try:
            while True:
                unsent = transport.get_write_buffer_size()
                done, _ = await asyncio.wait({closed}, timeout=CLOSE_STALL_TIMEOUT)
                if done:
                    break
                if transport.get_write_buffer_size() >= unsent:
                    transport.abort()
        finally:
            closed.cancel()
    except OSError:
        # A transport that is already gone may refuse the calls above.
        pass


async def _wait_closed(writer: asyncio.StreamWriter | FrameWriter) -> None:
    """Wait until ``writer``'s connection is lost, without raising the
    exception it was lost with (all that ``wait_closed`` raises, besides
    `asyncio.CancelledError`)."""
    try:
        await writer.wait_closed()
    except Exception:
        pass


async def read_into(reader: asyncio.StreamReader | FrameReader, struct: typing.Any) -> None:
    """Read exactly enough bytes to fill ``struct`` and copy them into it.

    Parameters
    ----------
    reader : `asyncio.StreamReader` or `FrameReader`
        The reader.
    struct : `ctypes.Structure` or other writable C-contiguous buffer
        The struct to fill.

    Raises
    ------
    asyncio.IncompleteReadError
        If EOF comes first; ``partial`` holds the bytes received.
    ConnectionError
        If the connection is lost.
    TypeError
        If ``struct`` is not a writable buffer.
    ValueError
        If ``struct`` is not C-contiguous.
    """
    if isinstance(reader, FrameReader):
        await reader.read_into(struct)
        return
    nbytes = structs.writable_nbytes(struct)
    data = await reader.readexactly(nbytes)
    if nbytes:
        (ctypes.c_char * nbytes).from_buffer(struct).raw = data


async def write_from(writer: asyncio.StreamWriter | FrameWriter, *structs_to_write: typing.Any) -> None:
    """Write the bytes of one or more structs, then drain.

    Parameters
    ----------
    writer : `asyncio.StreamWriter` or `FrameWriter`
        The writer.
    *structs_to_write : `ctypes.Structure` or other C-contiguous buffers
        The structs to write, in order.
    """
    if isinstance(writer, FrameWriter):
        writer.write_structs(structs_to_write)
    else:
        writer.write(structs.join_structs(structs_to_write))
    await writer.drain()


async def set_socket_options(writer: asyncio.StreamWriter | FrameWriter) -> None:
    """Turn on TCP keepalive for the writer's socket.

    A coroutine function, as in lsst.ts.tcpip 2.2, so callers await it
    (it does not suspend).

    Uses `KEEPALIVE_TIME`, `KEEPALIVE_INTERVAL` and `KEEPALIVE_PROBES`, with
    the option names of Linux (``TCP_KEEPIDLE``) or macOS
    (``TCP_KEEPALIVE``). Does nothing if the writer has no socket or its
    socket is not TCP (e.g. a Unix domain socket), or if the connection
    is closing or gone (its socket may be closed already). Over TLS,
    configures the TCP socket underneath.

    Parameters
    ----------
    writer : `asyncio.StreamWriter` or `FrameWriter`
        The writer whose socket to configure.
    """
    if writer.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is None or sock.family not in TCP_FAMILIES or sock.type != socket.SOCK_STREAM:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle_option = getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))
    if idle_option is not None:
        sock.setsockopt(socket.IPPROTO_TCP, idle_option, KEEPALIVE_TIME)
    if hasattr(socket, "TCP_KEEPINTVL"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL)
    if hasattr(socket, "TCP_KEEPCNT"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)


def current_tai() -> float:
    """Return the current time as TAI unix seconds.

    This is the time scale of lsst.ts.tcpip's ``*_tai`` attributes: the
    system clock (UTC unix seconds) plus `TAI_MINUS_UTC`.

    Returns
    -------
    tai : `float`
        Current TAI time (unix seconds).
    """
    return time.time() + TAI_MINUS_UTC
