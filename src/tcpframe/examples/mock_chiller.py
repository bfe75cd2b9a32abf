"""A mock ThermoTek-style chiller, to test `ChillerClient` against."""

from __future__ import annotations

__all__ = ["MockChiller", "ReplyStatus"]

import asyncio
import dataclasses
import enum
import logging
import typing

from ..constants import LOCALHOST_IPV4
from ..tcpip.one_client_read_loop_server import OneClientReadLoopServer
from .chiller import CHILLER_ENCODING, COMMAND_FRAME, MAX_COMMAND_LENGTH, MIN_COMMAND_LENGTH, REPLY_FRAME

# Start of a reply.
START_OF_REPLY = "#"


class ReplyStatus(enum.Enum):
    """The status character of a `MockChiller` reply."""

    OK = "0"
    """The command was understood; the reply echoes it."""
    BAD_CHECKSUM = "1"
    """The command's checksum did not match."""
    BAD_COMMAND = "2"
    """The command was not ``.{device_id}{10-18 ASCII characters}``."""


class MockChiller(OneClientReadLoopServer):
    """A one-client server that answers chiller commands like a chiller.

    It reads commands ``.{device_id}{cmd}{checksum}\\r`` and answers each
    with ``#{device_id}{status}{echo}{checksum}\\r``: ``status`` is a
    `ReplyStatus` value, ``echo`` is ``cmd`` if the status is OK and empty
    otherwise, and ``checksum`` is the 8-bit sum of everything before it
    as two hex digits.

    Listens on localhost; wait for `start_task`, then connect to `port`.

    Parameters
    ----------
    log : `logging.Logger`
        Logger.
    device_id : `str`, optional
        The chiller's device ID.
    port : `int`, optional
        Port to listen on; 0 picks a free port.
    **kwargs
        Passed to `~tcpframe.OneClientReadLoopServer`.

    Attributes
    ----------
    device_id : `str`
        The ``device_id`` argument.
    commands : `list` [`str` or None]
        Every command line received, without the terminator; None for a
        line that was not ASCII.
    reply_delay : `float`
        Wait this long (s) before each reply; for tests of timeouts.
    corrupt_next_reply : `bool`
        Send the next reply with a wrong checksum; cleared when used.
    uppercase_checksums : `bool`
        Write checksums with upper-case hex digits.
    """

    def __init__(self, log: logging.Logger, device_id: str = "01", port: int = 0, **kwargs: typing.Any) -> None:
        self.device_id = device_id
        self.commands: list[str | None] = []
        self.reply_delay = 0.0
        self.corrupt_next_reply = False
        self.uppercase_checksums = False
        super().__init__(
            port=port,
            host=LOCALHOST_IPV4,
            log=log,
            name=f"mock chiller {device_id}",
            encoding=CHILLER_ENCODING,
            terminator=COMMAND_FRAME.terminator,
            **kwargs,
        )

    async def read_and_dispatch(self) -> None:
        """Read one command and reply to it.

        The command is read as a line, not with `read_checksummed`, so
        that every line is recorded in `commands` and answered, including
        lines that are not frames at all.
        """
        try:
            command = await self.read_str()
        except UnicodeError:
            command = None
        self.commands.append(command)
        status, echo = self.parse_command(command)
        if self.reply_delay > 0:
            await asyncio.sleep(self.reply_delay)
        await self.write(self.format_reply(status, echo).encode(CHILLER_ENCODING))

    def parse_command(self, command: str | None) -> tuple[ReplyStatus, str]:
        """Check one received command line against `~tcpframe.examples.chiller.COMMAND_FRAME`.

        Parameters
        ----------
        command : `str` or None
            The line without terminator; None if it was not ASCII.

        Returns
        -------
        status : `ReplyStatus`
            What the reply should say about the command.
        cmd : `str`
            The command without framing if the status is OK, else ``""``.
        """
        prefix = f"{COMMAND_FRAME.start.decode(CHILLER_ENCODING)}{self.device_id}"
        if command is None or not command.startswith(prefix):
            return ReplyStatus.BAD_COMMAND, ""
        # The line as a client would frame its body (all but the start
        # marker and the two checksum digits), whose hex digits may come
        # in either case.
        body = command[len(COMMAND_FRAME.start) : -2].encode(CHILLER_ENCODING)
        framed = COMMAND_FRAME.encode(body)[: -len(COMMAND_FRAME.terminator)].decode(CHILLER_ENCODING)
        if command.lower() != framed.lower():
            return ReplyStatus.BAD_CHECKSUM, ""
        cmd = command[len(prefix) : -2]
        if not MIN_COMMAND_LENGTH <= len(cmd) <= MAX_COMMAND_LENGTH:
            return ReplyStatus.BAD_COMMAND, ""
        return ReplyStatus.OK, cmd

    def format_reply(self, status: ReplyStatus, echo: str) -> str:
        """Return the full reply line, a `~tcpframe.examples.chiller.REPLY_FRAME`.

        The checksum is wrong (one more than the right one) if
        `corrupt_next_reply` is set (which this clears).

        Parameters
        ----------
        status : `ReplyStatus`
            What the reply says about the command.
        echo : `str`
            The command echoed back (``""`` unless the status is OK).

        Returns
        -------
        reply : `str`
            ``#{device_id}{status}{echo}{checksum}\\r``.
        """
        framing = dataclasses.replace(REPLY_FRAME, uppercase=self.uppercase_checksums)
        body = f"{START_OF_REPLY}{self.device_id}{status.value}{echo}".encode(CHILLER_ENCODING)
        reply = framing.encode(body)
        if self.corrupt_next_reply:
            self.corrupt_next_reply = False
            # A body one byte 0x01 longer has an 8-bit sum one more.
            reply = reply[:-3] + framing.encode(body + b"\x01")[-3:]
        return reply.decode(CHILLER_ENCODING)
