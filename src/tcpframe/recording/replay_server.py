"""A mock server that plays back the server side of a recording.

``python -m tcpframe.replay`` runs a `ReplayServer` from the command line.
"""

from __future__ import annotations

__all__ = ["ReplayMismatchError", "ReplayServer"]

import asyncio
import logging
import math
import types
import typing
from collections.abc import Iterator

from ..constants import LOCALHOST_IPV4
from ..stream.reader import FrameReader
from ..tcpip.base_client_or_server import BaseClientOrServer, make_done_future
from ..tcpip.one_client_server import OneClientServer
from .format import Direction, PathType, RecordingReader, RecordKind, Traffic
from .recorder import READ_SIZE

# Bytes of context around a difference in a ReplayMismatchError.
MISMATCH_CONTEXT = 32

# After playing the recorded server's EOF (a shutdown of the sending
# side), wait at most this long for the client to close before closing (s).
EOF_LINGER = 2.0


class ReplayMismatchError(ValueError):
    """The client sent other bytes than the recorded client had sent.

    Parameters
    ----------
    offset : `int`
        Offset of the first differing byte in the client's stream.
    expected : `bytes`
        The recorded bytes from there (up to `MISMATCH_CONTEXT`); empty if
        the recorded client had sent no more.
    received : `bytes`
        The bytes received from there (up to `MISMATCH_CONTEXT`).

    Attributes
    ----------
    offset, expected, received
        The parameters.
    """

    def __init__(self, offset: int, expected: bytes, received: bytes) -> None:
        recorded = f"expected {expected!r}" if expected else "the recorded client had sent nothing more"
        super().__init__(
            f"the client's bytes differ from the recording at byte {offset} of its stream: "
            f"{recorded}, received {received!r}"
        )
        self.offset = offset
        self.expected = expected
        self.received = received


class _ClientGone(Exception):
    """The client closed before the replay needed it to."""


class _RecordedClientStream:
    """The bytes the recorded client sent, read from the recording as needed."""

    def __init__(self, path: PathType) -> None:
        self._reader = RecordingReader(path)
        self._chunks: Iterator[bytes] = (
            record.data
            for record in self._reader
            if record.kind is RecordKind.DATA and record.direction is Direction.CLIENT_TO_SERVER
        )
        self._chunk = memoryview(b"")

    def close(self) -> None:
        self._reader.close()

    def take(self, nbytes: int) -> bytes:
        """Return the next ``nbytes`` bytes, fewer at the end of the stream."""
        pieces = []
        while nbytes > 0:
            if not self._chunk:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._chunk = memoryview(chunk)
            piece = self._chunk[:nbytes]
            self._chunk = self._chunk[len(piece) :]
            pieces.append(piece)
            nbytes -= len(piece)
        return b"".join(pieces)


class _ClientListener:
    """Read, count and optionally check what the client sends, until EOF.

    Parameters
    ----------
    reader : `FrameReader`
        The client connection's reader.
    traffic : `Traffic`
        Where to count the bytes received.
    expected : `_RecordedClientStream` or None
        The bytes to check them against; None not to check.
    """

    def __init__(self, reader: FrameReader, traffic: Traffic, expected: _RecordedClientStream | None) -> None:
        self._reader = reader
        self.traffic = traffic
        self._expected = expected
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._listen())

    @property
    def eof(self) -> bool:
        """Has the client closed (or failed a check)?"""
        return self.task.done()

    async def _listen(self) -> None:
        try:
            while data := await self._reader.read(READ_SIZE):
                if self._expected is not None:
                    self._check(self._expected, data)
                self.traffic.add(len(data))
                self._changed.set()
        except OSError:  # ConnectionError, or e.g. ENOTCONN from uvloop
            pass
        finally:
            self._changed.set()

    def _check(self, expected_stream: _RecordedClientStream, data: bytes) -> None:
        expected = expected_stream.take(len(data))
        if expected == data:
            return
        index = next((i for i, (a, b) in enumerate(zip(expected, data, strict=False)) if a != b), len(expected))
        expected += expected_stream.take(MISMATCH_CONTEXT)
        raise ReplayMismatchError(
            self.traffic.nbytes + index,
            expected[index : index + MISMATCH_CONTEXT],
            data[index : index + MISMATCH_CONTEXT],
        )

    async def stop(self) -> BaseException | None:
        """Stop listening; return the exception of a failed check, if any."""
        self.task.cancel()
        await asyncio.wait({self.task})
        return None if self.task.cancelled() else self.task.exception()

    def raise_if_failed(self) -> None:
        """Raise the `ReplayMismatchError` of a failed check, if any."""
        if self.task.done() and not self.task.cancelled():
            exc = self.task.exception()
            if exc is not None:
                raise exc

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` (event loop time).

        Raises
        ------
        ReplayMismatchError
            As soon as what the client sent differs from the recording.
        """
        loop = asyncio.get_running_loop()
        if not self.task.done():
            await asyncio.wait({self.task}, timeout=max(deadline - loop.time(), 0))
            self.raise_if_failed()
        # The client has closed its sending side, or the time has come.
        await asyncio.sleep(max(deadline - loop.time(), 0))

    async def wait_for(self, nbytes: int, eof: bool) -> None:
        """Wait until the client has sent ``nbytes`` bytes, and closed if ``eof``.

        Raises
        ------
        ReplayMismatchError
            If what the client sent differs from the recording.
        _ClientGone
            If the client closed first.
        """
        while not (self.traffic.nbytes >= nbytes and (self.eof or not eof)):
            self.raise_if_failed()
            if self.eof:
                raise _ClientGone()
            self._changed.clear()
            await self._changed.wait()
        self.raise_if_failed()


class ReplayServer(OneClientServer):
    """A one-client server that plays the server side of a recording.

    Each client that connects gets the recorded server's chunks, one
    write per chunk, in one of two ways:

    - timed (the default): each chunk at its recorded time since the
      connection, divided by ``speed``;
    - paced (``paced=True``): each chunk once the client has sent as many
      bytes as the recorded client had sent before it (and closed, if the
      recorded client had), then after its recorded delay since those
      bytes, divided by ``speed``.

    ``speed=math.inf`` sends as soon as allowed. A client that closes its
    sending side early still gets the rest of the replay; the replay ends
    when sending to it fails (or, paced, when it would have to send more). The recorded server's
    close (its EOF) shuts down the sending side, and the connection is
    closed once the client closes too (or after `EOF_LINGER` seconds); a
    recording that ends without it keeps the connection open until the
    client closes. A client that
    closes first ends its replay. With ``check=True`` what the client sends
    is compared with what the recorded client sent: the first difference
    ends the replay with a `ReplayMismatchError`, naming the offset and
    both bytes there.

    Use as an async context manager: entering waits until it listens
    (then read `port`), exiting closes it and raises the error that ended
    the last replay, if any (a `ReplayMismatchError`, or a
    `~tcpframe.recording.RecordingError` if the file is truncated or
    corrupt; the chunks before the bad record have been sent).

    Parameters
    ----------
    path : `str` or path-like
        The recording.
    speed : `float`, optional
        How many times faster than recorded to play; `math.inf` for as
        fast as possible.
    paced : `bool`, optional
        Wait for the client's bytes before each chunk?
    check : `bool`, optional
        Check that the client sends the recorded client's bytes?
    port : `int`, optional
        Port to listen on; 0 picks a free one.
    host : `str` or None, optional
        Address to listen on; None for all interfaces.
    log : `logging.Logger` or None, optional
        Logger; the module's logger if None.
    **kwargs
        Passed to `~tcpframe.OneClientServer`.

    Attributes
    ----------
    header : `~tcpframe.recording.RecordingHeader`
        The recording's header.
    replay_task : `asyncio.Future`
        The replay to the current or last client (cancelled before the
        first). Its result is True if the whole recorded server side was
        played, False if the client closed first.
    traffic : `dict` [`Direction`, `Traffic`]
        What the current or last client was sent (``SERVER_TO_CLIENT``)
        and sent (``CLIENT_TO_SERVER``).

    Raises
    ------
    ValueError
        If ``speed`` is not positive.
    OSError, RecordingError
        If the recording cannot be opened or its header is bad.
    """

    def __init__(
        self,
        path: PathType,
        *,
        speed: float = 1.0,
        paced: bool = False,
        check: bool = False,
        port: int = 0,
        host: str | None = LOCALHOST_IPV4,
        log: logging.Logger | None = None,
        **kwargs: typing.Any,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed={speed!r} must be positive")
        with RecordingReader(path) as reader:
            self.header = reader.header
        self.path = path
        self.speed = speed
        self.paced = paced
        self.check = check
        self.traffic = {direction: Traffic() for direction in Direction}
        self.replay_task: asyncio.Future[bool] = make_done_future()
        super().__init__(
            host=host,
            port=port,
            log=log if log is not None else logging.getLogger("tcpframe.replay"),
            connect_callback=self._start_or_stop_replay,
            # The replay watches the client itself: a client that closes
            # its sending side may still be owed the recorded replies.
            monitor_connection_interval=0,
            name="ReplayServer",
            **kwargs,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()
        if exc_type is None and self.replay_task.done() and not self.replay_task.cancelled():
            self.replay_task.result()

    async def _start_or_stop_replay(self, server: BaseClientOrServer) -> None:
        # The replay itself may be what closed the client.
        if self.replay_task is not asyncio.current_task():
            self.replay_task.cancel()
        if self.connected:
            self.replay_task = asyncio.create_task(self._replay_to_client())
            self.replay_task.add_done_callback(self._log_outcome)

    def _log_outcome(self, task: asyncio.Future[bool]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.log.warning("%s: replay failed: %s", self.name, exc)
        elif task.result():
            self.log.info("%s: replay complete", self.name)
        else:
            self.log.info("%s: the client closed before the replay was complete", self.name)

    async def _replay_to_client(self) -> bool:
        assert self._reader is not None
        self.traffic = {direction: Traffic() for direction in Direction}
        expected = _RecordedClientStream(self.path) if self.check else None
        listener = _ClientListener(self._reader, self.traffic[Direction.CLIENT_TO_SERVER], expected)
        try:
            server_closed = await self._play(listener)
            if server_closed is not False:
                # After the server's EOF, linger for client bytes still on
                # their way (lest they reset the connection); if the
                # recording ends with the connection open, keep it open.
                await asyncio.wait({listener.task}, timeout=EOF_LINGER if server_closed else None)
            complete = server_closed is not False
        except _ClientGone:
            complete = False
        finally:
            failure = await listener.stop()
            if expected is not None:
                expected.close()
            await self.close_client()
        if failure is not None:
            raise failure
        return complete

    async def _play(self, listener: _ClientListener) -> bool | None:
        """Play the server's records; return True after the server's EOF,
        False if the client closed first, None at the end of the recording.
        """
        assert self._writer is not None
        writer = self._writer
        loop = asyncio.get_running_loop()
        # A server record is due at anchor_time + (its timestamp - anchor_timestamp) / speed.
        anchor_time, anchor_timestamp = loop.time(), 0
        # The recorded client's bytes so far, whether it had closed, and
        # how many of its records there were (and when the last was).
        client_nbytes, client_eof, client_records, client_timestamp = 0, False, 0, 0
        # Paced: client_records when the anchor was set.
        anchored_records = 0
        with RecordingReader(self.path) as reader:
            for record in reader:
                if record.direction is Direction.CLIENT_TO_SERVER:
                    client_nbytes += len(record.data)
                    client_eof = client_eof or record.kind is RecordKind.EOF
                    client_records += 1
                    client_timestamp = record.timestamp
                    continue
                if self.paced and client_records > anchored_records:
                    await listener.wait_for(client_nbytes, client_eof)
                    anchor_time, anchor_timestamp = loop.time(), client_timestamp
                    anchored_records = client_records
                if math.isfinite(self.speed):
                    await listener.sleep_until(anchor_time + (record.timestamp - anchor_timestamp) / 1e9 / self.speed)
                listener.raise_if_failed()
                if record.kind is RecordKind.EOF:
                    if not writer.is_closing() and writer.can_write_eof():
                        try:
                            writer.write_eof()
                        except OSError:  # e.g. ENOTCONN: the client is gone
                            return False
                    return True
                writer.write(record.data)
                writer.flush()
                self.traffic[Direction.SERVER_TO_CLIENT].add(len(record.data))
                try:
                    await writer.drain()
                except OSError:  # ConnectionError, or e.g. ENOTCONN from uvloop
                    return False
        return None
