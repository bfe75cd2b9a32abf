"""A client for a ThermoTek-style chiller: checksummed ASCII commands."""

from __future__ import annotations

__all__ = [
    "CHILLER_ENCODING",
    "COMMAND_FRAME",
    "MAX_COMMAND_LENGTH",
    "MIN_COMMAND_LENGTH",
    "REPLY_FRAME",
    "ChecksumError",
    "ChillerClient",
]

import asyncio
import logging
import typing

from .. import checksums
from ..errors import ChecksumMismatchError
from ..framing import ChecksumFrame
from ..tcpip.client import Client

# Commands and replies are ASCII text.
CHILLER_ENCODING = "ascii"
#: A command, ``.{device_id}{cmd}{checksum}\r``: the checksum is the
#: 8-bit sum of everything before it, the start marker included, as two
#: lowercase hex digits.
COMMAND_FRAME = ChecksumFrame(
    checksum="sum8", start=b".", separator=b"", terminator=b"\r", covers_start=True, uppercase=False
)
#: A reply, ``{reply}{checksum}\r``: the checksum is the 8-bit sum of
#: the whole reply (which starts with ``#``), as two hex digits in either
#: case.
REPLY_FRAME = ChecksumFrame(checksum="sum8", start=b"", separator=b"", terminator=b"\r", uppercase=False)
# A command is a 2-character command ID, 8 characters of description and
# 0-8 characters of data.
MIN_COMMAND_LENGTH = 10
MAX_COMMAND_LENGTH = 18

ChecksumError = ChecksumMismatchError
"""Alias of `tcpframe.ChecksumMismatchError`, which `ChillerClient.run_command`
raises for a reply whose checksum does not match; the name this module
exported before the client read its replies with
`~tcpframe.Client.read_checksummed`."""


class ChillerClient(Client):
    """TCP/IP client of a ThermoTek-style chiller.

    A command ``cmd`` goes out as ``.{device_id}{cmd}{checksum}\\r``
    (`COMMAND_FRAME`), where the checksum covers everything before it (see
    `compute_checksum`). The chiller answers each command with one line
    ending in ``\\r``, whose last two characters are its checksum
    (`REPLY_FRAME`). Use `run_command`.

    Parameters
    ----------
    device_id : `str`
        Device ID of the chiller, typically ``"01"``.
    host : `str` or None
        Address of the chiller (as for `~tcpframe.Client`).
    port : `int` or None
        TCP port of the chiller (as for `~tcpframe.Client`, e.g. the
        ``port`` of a `MockChiller`).
    log : `logging.Logger`
        Logger.
    **kwargs
        Passed to `~tcpframe.Client` (e.g. ``connect_callback``, ``name``).

    Attributes
    ----------
    device_id : `str`
        The ``device_id`` argument.

    Raises
    ------
    ValueError
        If ``device_id`` is not a non-empty ASCII `str`.
    """

    def __init__(
        self, device_id: str, host: str | None, port: int | None, log: logging.Logger, **kwargs: typing.Any
    ) -> None:
        if not isinstance(device_id, str) or not device_id or not device_id.isascii():
            raise ValueError(f"device_id={device_id!r} must be a non-empty ASCII str")
        self.device_id = device_id
        # One command at a time: a reply belongs to the command before it.
        self._command_lock = asyncio.Lock()
        kwargs.setdefault("name", f"chiller {device_id}")
        super().__init__(
            host=host,
            port=port,
            log=log,
            encoding=CHILLER_ENCODING,
            terminator=REPLY_FRAME.terminator,
            **kwargs,
        )

    @staticmethod
    def compute_checksum(st: str) -> str:
        """Return the checksum field of ``st``: the 8-bit sum (no carry) of
        its ASCII bytes, as two lowercase hex digits.

        Parameters
        ----------
        st : `str`
            ASCII string to checksum, starting with the ``.`` that starts a
            command.

        Returns
        -------
        checksum : `str`
            Two lowercase hex digits, e.g. ``"0a"``: the field that
            `COMMAND_FRAME` writes after ``st``.

        Raises
        ------
        UnicodeEncodeError
            If ``st`` is not ASCII.
        """
        return checksums.format_hex2(checksums.sum8(st))

    def format_full_command(self, cmd: str) -> str:
        """Return ``cmd`` framed as ``.{device_id}{cmd}{checksum}\\r``.

        Parameters
        ----------
        cmd : `str`
            10 to 18 ASCII characters: a 2-character command ID, 8
            characters of description and 0-8 characters of data.

        Returns
        -------
        full_command : `str`
            The command as sent, with the checksum of everything before it
            and the terminating carriage return.

        Raises
        ------
        TypeError
            If ``cmd`` is not a `str`.
        ValueError
            If ``cmd`` is shorter than 10 or longer than 18 characters.
        UnicodeEncodeError
            If ``cmd`` is not ASCII (a `ValueError` too).
        tcpframe.FrameError
            If ``cmd`` holds a carriage return (a `ValueError` too).
        """
        return COMMAND_FRAME.encode(self._command_body(cmd)).decode(CHILLER_ENCODING)

    async def run_command(self, cmd: str) -> str:
        """Send a command and return the chiller's reply.

        Concurrent calls are served one at a time, in order, so each gets
        the reply to its own command.

        If the call is cancelled (e.g. by a timeout) after the command was
        sent, the connection is closed: the reply that would arrive later
        would otherwise be taken as the reply to the next command.

        Parameters
        ----------
        cmd : `str`
            The command, without device ID, checksum and terminator; see
            `format_full_command`.

        Returns
        -------
        reply : `str`
            The reply without its checksum and terminating ``\\r``.

        Raises
        ------
        ValueError
            If ``cmd`` is not a valid command (see `format_full_command`).
        tcpframe.ChecksumMismatchError
            If the reply's checksum does not match (`ChecksumError` is
            the same class); the reply was consumed.
        tcpframe.FrameError
            If the reply is too short to hold a checksum, or its checksum
            is not two hex digits; the reply was consumed.
        ConnectionError
            If not connected or the connection is lost.
        asyncio.IncompleteReadError
            If the chiller closes the connection before replying in full.
        UnicodeDecodeError
            If the reply is not ASCII; the reply was consumed.
        """
        body = self._command_body(cmd)
        async with self._command_lock:
            try:
                await self.write_checksummed(body, COMMAND_FRAME)
                reply = await self.read_checksummed(REPLY_FRAME)
            except asyncio.CancelledError:
                if self.writer is not None:
                    self.log.warning("%s: closing: cancelled while waiting for the reply to %r", self.name, cmd)
                    self.writer.close()
                raise
        return reply.decode(CHILLER_ENCODING)

    def _command_body(self, cmd: str) -> bytes:
        """Return the body of the `COMMAND_FRAME` that carries ``cmd``:
        ``{device_id}{cmd}`` in ASCII; raise as `format_full_command`."""
        if not isinstance(cmd, str):
            raise TypeError(f"cmd={cmd!r} must be a str")
        if not MIN_COMMAND_LENGTH <= len(cmd) <= MAX_COMMAND_LENGTH:
            raise ValueError(
                f"cmd={cmd!r} has {len(cmd)} characters; it must have {MIN_COMMAND_LENGTH} to {MAX_COMMAND_LENGTH}"
            )
        return f"{self.device_id}{cmd}".encode(CHILLER_ENCODING)
