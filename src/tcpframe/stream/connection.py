"""The state of one connection, kept in one place for its protocol,
reader, writer and client."""

from __future__ import annotations

__all__ = ["ConnectionState"]

import asyncio
from collections.abc import Callable


class ConnectionState:
    """What is known about one connection's life.

    The protocol reports what the transport says (`note_peer_closed`,
    `note_lost`), the writer that this end closed (`note_closed_here`),
    and anyone that the connection failed (`note_failed`). Each change
    runs the callbacks given to `subscribe`, in order: the reader and the
    writer recompute what they allow from these attributes. The
    attributes are read-only outside this class.

    Attributes
    ----------
    peer_closed : `bool`
        The peer ended the connection cleanly (EOF).
    lost : `bool`
        The connection is gone (the transport's ``connection_lost``).
    closed_here : `bool`
        This end closed the connection.
    exception : `BaseException` or None
        What ended the connection, if it failed.

    Notes
    -----
    The flags are only ever set, never cleared. Reads and writes take
    their fast path while the state is `usable`::

                             note_peer_closed()
        +----------------+ ---------------------> +------------------------------+
        |      open      |                        |         peer closed          |
        |     usable     |                        |  usable (writes still go);   |
        +----------------+                        |  receiving_ended: reads end  |
                |                                 |  at what is buffered         |
                |                                 +------------------------------+
                | note_closed_here()                            |
                | note_failed(exc)                              | note_closed_here()
                v                                               | note_failed(exc)
        +------------------------------------------+            |
        |  closing: not usable                     | <----------+
        |  closed_here, and/or exception = exc     |
        +------------------------------------------+
                |
                | note_lost(exc)   (from any state: the transport is gone)
                v
        +------------------------------------------+
        |  lost (final): not usable,               |
        |  receiving_ended; exception = exc if     |
        |  exc is not None; wait_closed() returns, |
        |  or raises exc                           |
        +------------------------------------------+

    `note_peer_closed` in a later state only sets `peer_closed`.
    """

    __slots__ = ("_closed", "_lost_with", "_subscribers", "closed_here", "exception", "lost", "peer_closed")

    def __init__(self) -> None:
        self.peer_closed = False
        self.lost = False
        self.closed_here = False
        self.exception: BaseException | None = None
        self._subscribers: list[Callable[[], None]] = []
        # Made by the first wait_closed, so that a state needs no loop.
        self._closed: asyncio.Future[None] | None = None
        self._lost_with: BaseException | None = None

    def __repr__(self) -> str:
        flags = [name for name in ("peer_closed", "lost", "closed_here") if getattr(self, name)]
        if self.exception is not None:
            flags.append(f"exception={self.exception!r}")
        return f"<ConnectionState {' '.join(flags) or 'open'}>"

    @property
    def receiving_ended(self) -> bool:
        """True once no more bytes will arrive: the peer closed, or the
        connection is lost."""
        return self.peer_closed or self.lost

    @property
    def usable(self) -> bool:
        """True while reads and writes need no further checks: the
        connection has not failed, is not lost and was not closed here."""
        return self.exception is None and not self.lost and not self.closed_here

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change of the state."""
        self._subscribers.append(callback)

    def note_peer_closed(self) -> None:
        """The peer sent EOF."""
        self.peer_closed = True
        self._changed()

    def note_closed_here(self) -> None:
        """This end closed (or began to close) the connection."""
        if not self.closed_here:
            self.closed_here = True
            self._changed()

    def note_failed(self, exc: BaseException) -> None:
        """The connection failed with ``exc``: every read raises it."""
        self.exception = exc
        self._changed()

    def note_lost(self, exc: BaseException | None) -> None:
        """The connection is gone, cleanly if ``exc`` is None."""
        self.lost = True
        self._lost_with = exc
        if exc is not None:
            self.exception = exc
        self._changed()
        closed = self._closed
        if closed is not None and not closed.done():
            self._settle(closed)

    async def wait_closed(self) -> None:
        """Wait until the connection is lost.

        Raises
        ------
        BaseException
            The exception the transport reported when the connection
            was lost, if any.
        """
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
            if self.lost:
                self._settle(self._closed)
        await asyncio.shield(self._closed)

    def _settle(self, closed: asyncio.Future[None]) -> None:
        if self._lost_with is None:
            closed.set_result(None)
        else:
            closed.set_exception(self._lost_with)
            # Whoever awaits wait_closed sees the exception; nobody else must.
            closed.exception()

    def _changed(self) -> None:
        for callback in self._subscribers:
            callback()
