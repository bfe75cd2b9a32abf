"""Abstract base of tcpframe's clients and servers (as in lsst.ts.tcpip)."""

from __future__ import annotations

__all__ = ["BaseClientOrServer", "ConnectCallbackType"]

import abc
import asyncio
import codecs
import logging
import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable

from .. import _kernels
from ..constants import DEFAULT_ENCODING, DEFAULT_MONITOR_CONNECTION_INTERVAL, DEFAULT_TERMINATOR
from ..framing import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from ..json_codecs import JSON_WHITESPACE_TERMINATORS, UTF8_NAMES, JsonCodec, JsonCodecChoice
from ..stream.reader import FrameReader
from ..stream.writer import FrameWriter
from ._callbacks import check_connect_callback
from .push_methods import PushMethods
from .telemetry_methods import TelemetryMethods
from .utils import close_stream_writer

if typing.TYPE_CHECKING:
    from .._kernels.awaitables_compiled import ReadPort

ConnectCallbackType = Callable[["BaseClientOrServer"], Awaitable[None]]
T = typing.TypeVar("T")

# What a read or write raises when the connection ends under it (over TLS a
# read can also end with an ssl.SSLError, e.g. for a record that does not
# decrypt).
_LOST_CONNECTION_ERRORS = (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError)


class BaseClientOrServer(TelemetryMethods, PushMethods, JsonCodecChoice, abc.ABC):
    """Abstract base class for a TCP/IP client or one-client server.

    Parameters
    ----------
    log : `logging.Logger`
        Logger; this object logs to a child of it.
    connect_callback : coroutine function or None, optional
        Called with this object whenever the connection state changes.
    monitor_connection_interval : `float`, optional
        If > 0 (the default, 0.1, is lsst.ts.tcpip's), monitor the
        connection: close it and call ``connect_callback`` as soon as it
        is lost, even if nothing reads. The monitor waits for the
        connection's state to change, so an idle connection costs no CPU;
        the interval (s) only bounds how late it notices that the last
        unread byte of a peer that closed was read. <= 0 for no monitor.
    name : `str`, optional
        Name used in log messages.
    do_start : `bool`, optional
        Schedule `start` now? If False, call `start` yourself.
    encoding : `str`, optional
        Encoding of `read_str`, `write_str`, `read_json`, `write_json`.
    terminator : `bytes`, optional
        Terminator of `read_str`, `write_str`, `read_json`, `write_json`.
    json_codec : `JsonCodec`, `str` or None, optional
        Codec of `read_json` and `write_json`, or its name (``"json"``,
        ``"orjson"``); None for the default (`set_default_json_codec`).
    busy_poll_us : `float`, optional
        Busy polling for command/reply: how long (µs) a read that must
        wait keeps polling before it sleeps in the event loop; 0 (the
        default) for none. See `busy_poll_us`.
    **kwargs
        Passed to `start`.

    Attributes
    ----------
    log : `logging.Logger`
        Child logger.
    name : `str`
        The ``name`` argument.
    encoding : `str`
        May be changed at any time; takes effect on the next call.
    terminator : `bytes`
        May be changed at any time; takes effect on the next call.
    json_codec : `JsonCodec`
        May be changed at any time; takes effect on the next call.
    busy_poll_us : `float`
        May be changed at any time; takes effect on the next read.
    should_be_connected : `bool`
        True once connected, until `close` (not `basic_close`) is called.
    start_task : `asyncio.Future`
        Done when `start` finishes.
    done_task : `asyncio.Future`
        Done when this object is closed.

    Raises
    ------
    TypeError
        If ``connect_callback`` is not None and not a coroutine function.
    ValueError
        If ``terminator`` is not `bytes`, ``encoding`` is not a codec, or
        ``json_codec`` is the name of no JSON codec.
    ImportError
        If ``json_codec`` needs a package that is not installed (orjson).
    """

    def __init__(
        self,
        *,
        log: logging.Logger,
        connect_callback: ConnectCallbackType | None = None,
        monitor_connection_interval: float = DEFAULT_MONITOR_CONNECTION_INTERVAL,
        name: str = "",
        do_start: bool = True,
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        json_codec: JsonCodec | str | None = None,
        busy_poll_us: float = 0.0,
        **kwargs: typing.Any,
    ) -> None:
        check_connect_callback(connect_callback)
        # Named for the class and the instance, so that two clients of one
        # class (e.g. a command and a telemetry client) log apart.
        self.log = log.getChild(f"{type(self).__name__}({name})")
        self.name = name
        self._reader: FrameReader | None = None
        # The reader's ReadPort with the compiled kernels, else None: the
        # compiled reads take through it.
        self._read_port: ReadPort | None = None
        self.encoding = encoding
        self.terminator = terminator
        self.json_codec = json_codec
        self.busy_poll_us = busy_poll_us
        self.monitor_connection_interval = monitor_connection_interval
        self.should_be_connected = False
        self._connect_callback = connect_callback
        self._last_connected = False
        self._writer: FrameWriter | None = None
        self._monitor_connection_task: asyncio.Future[typing.Any] = make_done_future()
        self.done_task: asyncio.Future[typing.Any] = asyncio.Future()
        if do_start:
            self.start_task: asyncio.Future[typing.Any] = asyncio.ensure_future(self.start(**kwargs))
        else:
            self.start_task = asyncio.Future()

    # Configuration.

    @property
    def encoding(self) -> str:
        """Encoding of `read_str`, `write_str`, `read_json` and `write_json`."""
        return self._encoding

    @encoding.setter
    def encoding(self, encoding: str) -> None:
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise ValueError(f"encoding={encoding!r} is not a known codec") from None
        self._encoding = encoding
        if self._read_port is not None:
            self._read_port.encoding = encoding

    @property
    def terminator(self) -> bytes:
        """Terminator of `read_str`, `write_str`, `read_json` and `write_json`."""
        return self._terminator

    @terminator.setter
    def terminator(self, terminator: bytes) -> None:
        if not isinstance(terminator, bytes) or not terminator:
            raise ValueError(f"terminator={terminator!r} must be non-empty bytes")
        self._terminator = terminator
        if self._read_port is not None:
            self._read_port.terminator = terminator

    @property
    def busy_poll_us(self) -> float:
        """Busy polling for command/reply: how long (µs) a read that must
        wait keeps polling before it sleeps in the event loop; 0 for none.

        Off by default. Set it (e.g. to 50) on a connection that sends a
        command and waits for its reply: the read then polls the socket
        (a non-blocking receive, over TCP and Unix sockets) and yields to
        the event loop without letting it block, so a reply that comes
        within the budget is read without waking an idle CPU, and round
        trips over loopback or a fast LAN take a fraction of the time.
        The cost is CPU: a waiting read keeps a core busy for up to this
        long, on every read that must wait. Other tasks still run (the
        read yields to them at every turn of the loop). Works on every
        event loop and transport (over TLS the loop's transport
        receives); applies to the current connection's reader and to the
        next ones (`FrameReader.busy_poll_us`).

        Raises
        ------
        ValueError
            If set to a negative number.
        """
        return self._busy_poll_us

    @busy_poll_us.setter
    def busy_poll_us(self, busy_poll_us: float) -> None:
        if not busy_poll_us >= 0:
            raise ValueError(f"busy_poll_us={busy_poll_us!r} must be >= 0")
        self._busy_poll_us = float(busy_poll_us)
        if self._reader is not None:
            self._reader.busy_poll_us = busy_poll_us

    def _use_reader(self, reader: FrameReader) -> None:
        """Read from ``reader`` (a new connection's) from now on."""
        self._reader = reader
        reader.busy_poll_us = self._busy_poll_us
        port = self._read_port = reader.read_port
        if port is not None:
            port.terminator = self._terminator
            port.encoding = self._encoding

    @property
    def reader(self) -> FrameReader | None:
        """The connection's reader, or None if never connected."""
        return self._reader

    @property
    def writer(self) -> FrameWriter | None:
        """The connection's writer, or None if never connected."""
        return self._writer

    @property
    def connected(self) -> bool:
        """True while the connection is open, not at EOF and not closing.

        A connection the peer closed cleanly counts as open while bytes it
        sent are unread, over every transport: over TLS the transport is
        closing by then, but those bytes are still readable.
        """
        return is_connected(self._reader, self._writer)

    # Life cycle.

    @abc.abstractmethod
    async def start(self, **kwargs: typing.Any) -> None:
        """Connect or start listening. Called by the constructor."""
        raise NotImplementedError()

    @abc.abstractmethod
    async def close(self) -> None:
        """Close everything and set `done_task` done. Always safe to call."""
        raise NotImplementedError()

    @abc.abstractmethod
    async def close_connection(self) -> None:
        """Close the connection, keeping `should_be_connected`.

        Called when a read or write finds the connection gone.
        """
        raise NotImplementedError()

    async def call_connect_callback(self) -> None:
        """Call ``connect_callback`` if the connection state changed.

        Always safe to call: the callback runs only when `connected`
        differs from what it was at the previous call, and an exception it
        raises is logged, not raised.
        """
        connected = self.connected
        if connected == self._last_connected:
            return
        self._last_connected = connected
        if self._connect_callback is None:
            return
        try:
            await self._connect_callback(self)
        except Exception:
            self.log.exception("connect_callback failed")

    def start_monitoring_connection(self) -> None:
        """Start the task that notices when the peer has gone away.

        Nothing is started if `monitor_connection_interval` is <= 0.
        """
        self._monitor_connection_task.cancel()
        if self.monitor_connection_interval > 0 and self._reader is not None:
            self._monitor_connection_task = asyncio.create_task(self._monitor_connection(self._reader))

    async def _monitor_connection(self, reader: FrameReader) -> None:
        """Close the connection (calling ``connect_callback``) once it is
        no longer `connected`.

        lsst.ts.tcpip checks `connected` every `monitor_connection_interval`
        seconds. Every way a connection ends is a change of its
        `~tcpframe.stream.connection.ConnectionState`, so this task waits
        for those changes instead and costs nothing while the connection
        is idle; it notices a loss at once. Only while the peer has closed
        and bytes it sent are still unread does it check every
        `monitor_connection_interval` seconds, as lsst.ts.tcpip does: the
        read that takes the last of them changes no state.
        """
        changed = asyncio.Event()
        state = reader.state
        state.subscribe(changed.set)
        while self.connected:
            if state.receiving_ended:
                await asyncio.sleep(self.monitor_connection_interval)
            else:
                await changed.wait()
                changed.clear()
        await self.close_connection()

    async def __aenter__(self) -> typing.Self:
        await self.start_task
        return self

    async def __aexit__(self, *exc_info: typing.Any) -> None:
        await self.close()

    # Reading.

    async def read(self, n: int) -> bytes:
        """Read up to ``n`` bytes; if ``n`` is -1, all bytes until EOF.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while reading.
        """
        return await self._read_checked(lambda reader: reader.read(n), close_at_eof=True)

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while reading.
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        """
        reader = self._reader
        if reader is not None and (data := reader.try_readexactly(n)) is not None:
            return data
        return await self._read_checked(lambda reader: reader.readexactly(n))

    async def readline(self) -> bytes:
        """Read through the next ``\\n``; at EOF return what is left.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while reading.
        """
        return await self._read_checked(FrameReader.readline, close_at_eof=True)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read through the first ``separator``, which is included.

        The default separator is that of `asyncio.StreamReader`, not
        `terminator`.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while reading.
        asyncio.IncompleteReadError
            If EOF comes first.
        asyncio.LimitOverrunError
            If the separator is not within the limit; the bytes stay
            buffered and can be read again.
        """
        reader = self._reader
        if reader is not None and (chunk := reader.try_readuntil(separator)) is not None:
            return chunk
        return await self._read_checked(lambda reader: reader.readuntil(separator))

    async def read_into(self, struct: typing.Any) -> None:
        """Fill a `ctypes.Structure` (or other writable buffer) from the stream.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while reading.
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        """
        reader = self._reader
        if reader is not None and reader.try_read_into(struct):
            return
        await self._read_checked(lambda reader: reader.read_into(struct))

    async def read_str(self) -> str:
        """Read a line ending in `terminator`; return it decoded, stripped.

        The line ends in the `terminator` of when the read is called, and
        is decoded with the `encoding` of when it is taken, as
        lsst.ts.tcpip does: a server's read loop may be waiting while the
        encoding is changed.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while reading.
        asyncio.IncompleteReadError
            If EOF comes before the terminator.
        asyncio.LimitOverrunError
            If the line is longer than the limit; the bytes stay buffered.
        UnicodeError
            If the line cannot be decoded (strict); it has been consumed.
        """
        terminator = self._terminator
        reader = self._reader
        if reader is not None and (text := reader.try_read_line(terminator, self._encoding)) is not None:
            return text
        return await self._read_checked(lambda reader: reader.read_line(terminator, lambda: self._encoding))

    async def read_json(self) -> typing.Any:
        """Read a line as `read_str` does and decode it as JSON, with
        `json_codec`.

        Raises
        ------
        json.JSONDecodeError
            If the line is not valid JSON; the message holds the line.
        """
        codec = self._json_codec
        decode_utf8 = codec.decode_utf8
        terminator = self._terminator
        if decode_utf8 is None or self._encoding not in UTF8_NAMES or terminator not in JSON_WHITESPACE_TERMINATORS:
            return codec.decode(await self.read_str())
        # The codec decodes the line's bytes as they are: no str is made,
        # and the terminator, being JSON whitespace, can stay on.
        reader = self._reader
        if reader is None or (line := reader.try_readuntil(terminator)) is None:
            line = await self._read_checked(lambda reader: reader.readuntil(terminator))
        try:
            return decode_utf8(line)
        except ValueError:
            # Raise what the text path raises: UnicodeDecodeError, or the
            # codec's JSONDecodeError.
            return codec.decode(line[: -len(terminator)].decode())

    async def read_frame(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> bytes:
        """Read the next length-prefixed frame and return its payload.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while reading.
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        tcpframe.FrameError
            If the prefix declares too large (or, counting itself, too
            small) a frame. The prefix stays unread and the connection
            open; the stream cannot be resynchronised, so close it.
        """
        reader = self._reader
        if reader is not None and (payload := reader.try_read_frame(prefix)) is not None:
            return payload
        return await self._read_checked(lambda reader: reader.read_frame(prefix))

    async def read_checksummed(self, framing: ChecksumFrame = NMEA) -> bytes:
        """Read the next checksummed frame, verify it and return its body.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while reading.
        asyncio.IncompleteReadError
            If EOF comes before the terminator.
        asyncio.LimitOverrunError
            If the terminator is not within the limit; the bytes stay
            buffered.
        tcpframe.ChecksumMismatchError
            If the checksum does not match. The frame is consumed and the
            connection stays open, so the next read gets the next frame.
        tcpframe.FrameError
            If the frame is malformed; consumed likewise.
        """
        reader = self._reader
        if reader is not None and (body := reader.try_read_checksummed(framing)) is not None:
            return body
        return await self._read_checked(lambda reader: reader.read_checksummed(framing))

    # Writing.

    async def write(self, data: bytes) -> None:
        """Write ``data`` and drain.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while writing.
        """
        writer = self._ready_writer() or await self._connected_writer()
        writer.write(data)
        if not writer.ready:
            await self._drain(writer)

    async def writelines(self, lines: Iterable[bytes]) -> None:
        """Write an iterable of `bytes` and drain.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while writing.
        """
        await self._write_checked(lambda writer: writer.writelines(lines))

    async def write_from(self, *structs: typing.Any) -> None:
        """Write the bytes of one or more `ctypes.Structure` (or other
        C-contiguous buffers) and drain.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while writing.
        """
        writer = self._ready_writer() or await self._connected_writer()
        writer.write_structs(structs)
        if not writer.ready:
            await self._drain(writer)

    async def write_str(self, line: str) -> None:
        """Encode ``line`` (strict), append `terminator`, write and drain.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while writing.
        UnicodeError
            If ``line`` cannot be encoded.
        """
        data = line.encode(self._encoding) + self._terminator
        writer = self._ready_writer() or await self._connected_writer()
        writer.write(data)
        if not writer.ready:
            await self._drain(writer)

    async def write_json(self, data: typing.Any) -> None:
        """Write ``data`` as a JSON line, encoded with `json_codec`, as
        `write_str` writes a line.

        Raises
        ------
        TypeError
            If ``data`` is not JSON-serializable.
        """
        codec = self._json_codec
        encode_utf8 = codec.encode_utf8
        if encode_utf8 is None or self._encoding not in UTF8_NAMES:
            line = codec.encode(data).encode(self._encoding)
        else:
            line = encode_utf8(data)
        await self.write(line + self._terminator)

    async def write_frame(self, payload: typing.Any, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> None:
        """Write ``payload`` as a length-prefixed frame and drain.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while writing.
        tcpframe.FrameError
            If the payload is too large for ``prefix``; nothing is written.
        """
        await self._write_checked(lambda writer: writer.write_frame(payload, prefix))

    async def write_checksummed(self, body: bytes, framing: ChecksumFrame = NMEA) -> None:
        """Write ``body`` as a checksummed frame and drain.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while writing.
        tcpframe.FrameError
            If the frame would hold its terminator before its end.
        """
        await self._write_checked(lambda writer: writer.write_checksummed(body, framing))

    # Helpers.

    # Each read method first tries its reader's try_<read>, which takes a
    # buffered message when the connection is usable, then waits with the
    # reader's read through _read_checked. Each write asks _ready_writer
    # first and writes at once while the writer is ready, else after
    # _connected_writer's checks; it drains only if the writer is no
    # longer ready. (The writes do not share one coroutine helper: its
    # call would cost them a tenth of their time.)

    async def _read_checked(
        self, read: Callable[[FrameReader], Awaitable[T]], close_at_eof: bool = False
    ) -> T:
        """Return ``await read(reader)`` after checking `connected`.

        If the read finds the connection ended (or, with
        ``close_at_eof``, leaves the reader at EOF), close the connection
        at this end, calling ``connect_callback``, before returning or
        raising.
        """
        if not self.connected:
            await self._refuse_disconnected()
        reader = typing.cast(FrameReader, self._reader)
        try:
            result = await read(reader)
        except _LOST_CONNECTION_ERRORS:
            await self.close_connection()
            raise
        if close_at_eof and reader.at_eof():
            await self.close_connection()
        return result

    async def _write_checked(self, write: Callable[[FrameWriter], None]) -> None:
        """Call ``write(writer)``, with the `connected` check and `drain`
        when the writer is not `FrameWriter.ready`."""
        writer = self._ready_writer() or await self._connected_writer()
        write(writer)
        if not writer.ready:
            await self._drain(writer)

    def _ready_writer(self) -> FrameWriter | None:
        """Return the writer if it is `FrameWriter.ready` (connected, not
        closing, not paused: a write needs no check and no drain), else
        None."""
        writer = self._writer
        if writer is not None and writer.ready:
            return writer
        return None

    async def _connected_writer(self) -> FrameWriter:
        """Return the writer after the full `connected` check."""
        if not self.connected:
            await self._refuse_disconnected()
        writer = typing.cast(FrameWriter, self._writer)
        if writer.is_closing():
            # Connected only to read what a TLS peer sent before its close
            # (TLS has no half-close): nothing written can reach it.
            raise ConnectionError("Cannot write: the peer closed the connection")
        return writer

    async def _refuse_disconnected(self) -> typing.NoReturn:
        if self._last_connected:
            # The connection ended since we last looked: report it first.
            await self.close_connection()
        raise ConnectionError("Not connected")

    async def _drain(self, writer: FrameWriter) -> None:
        try:
            await writer.drain()
        except _LOST_CONNECTION_ERRORS:
            await self.close_connection()
            raise

    async def _close_writer(self, writer: FrameWriter | None) -> None:
        """Close ``writer``, if not None, with `close_stream_writer`, which
        never raises for the way the connection died."""
        if writer is not None:
            await close_stream_writer(writer)


def is_connected(reader: FrameReader | None, writer: FrameWriter | None) -> bool:
    """Return True if the connection of ``reader`` and ``writer`` is
    open, not at EOF and not closing (see `BaseClientOrServer.connected`)."""
    if reader is None or writer is None or reader.at_eof():
        return False
    return not writer.is_closing() or writer.closed_by_peer


# With the compiled kernels, the reads above return compiled awaitables
# that take a buffered message without a Python coroutine, and run these
# methods as their slow path (tcpframe._kernels.awaitables_compiled).
if _kernels.awaitables is not None:
    _kernels.awaitables.install(BaseClientOrServer)


def make_done_future() -> asyncio.Future[typing.Any]:
    """Return a future that is already done (cancelled)."""
    future: asyncio.Future[typing.Any] = asyncio.Future()
    future.cancel()
    return future


async def cancel_and_wait(*tasks: asyncio.Future[typing.Any]) -> None:
    """Cancel ``tasks``, except the one running this, and wait until they
    are done, so that none outlives the close that stopped it.

    Never raises what the tasks raised.
    """
    current = asyncio.current_task()
    others = [task for task in tasks if task is not current]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others)
