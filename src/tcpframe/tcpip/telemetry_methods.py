"""Client and server methods beyond lsst.ts.tcpip, for high-rate telemetry:
batch structs, length-prefixed and checksummed frames, async iteration."""

from __future__ import annotations

__all__ = ["TelemetryMethods"]

import typing
from collections.abc import AsyncIterator

from ..stream.iteration import ReadIterator
from ..stream.telemetry_reads import TelemetryReads, compiled_steps

if typing.TYPE_CHECKING:
    from ..stream.reader import FrameReader


class TelemetryMethods(TelemetryReads):
    """Telemetry methods of `BaseClientOrServer`, which mixes this in.

    They are written on the host's public API alone: `read_into`,
    `read_str`, `read_json`, `read_frame`, `read_checksummed`,
    `write_from` and `reader`. The batch struct reads and the iterators
    over structs and frames are `FrameReader`'s too (`TelemetryReads`);
    the lines and JSON iterators here give `str` lines, as `read_str`.
    """

    if typing.TYPE_CHECKING:
        # What BaseClientOrServer provides (type checkers check that its
        # definitions match these).
        @property
        def reader(self) -> FrameReader | None: ...

        async def read_str(self) -> str: ...

        async def read_json(self) -> typing.Any: ...

        async def write_from(self, *structs: typing.Any) -> None: ...

    async def write_records(self, records: typing.Any) -> None:
        """Write a whole array of records (numpy, ctypes, ...) and drain.

        The same as ``write_from(records)``: any C-contiguous buffer goes
        out in one piece.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while writing.
        ValueError
            If ``records`` is not C-contiguous.
        """
        await self.write_from(records)

    def iter_lines(self) -> AsyncIterator[str]:
        """Iterate asynchronously over lines, as repeated `read_str` calls.

        The iteration ends when the connection ends cleanly between lines
        (the peer closed, or this end did); anything else a read raises
        propagates, e.g. `asyncio.IncompleteReadError` for a line cut
        short by EOF. (`FrameReader.iter_lines` gives `bytes` lines.)
        """
        return compiled_steps(ReadIterator(self.read_str, self._ended_cleanly), self.read_str)

    def iter_json(self) -> AsyncIterator[typing.Any]:
        """Iterate asynchronously over JSON lines, as repeated `read_json`
        calls; ends as `iter_lines` does."""
        return compiled_steps(ReadIterator(self.read_json, self._ended_cleanly), self.read_json)

    def _ended_cleanly(self) -> bool:
        """True if the peer closed without an error and every byte was read."""
        reader = self.reader
        return reader is not None and reader.at_eof() and reader.exception() is None
