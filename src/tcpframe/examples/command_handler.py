"""The pluggable command handler of `SocketServer`, and its response codes."""

from __future__ import annotations

__all__ = ["AbstractCommandHandler", "CommandMethod", "ReplyCallback", "ResponseCode"]

import abc
import asyncio
import enum
import inspect
import logging
import typing
from collections.abc import Awaitable, Callable, Coroutine

from ..tcpip._callbacks import require_coroutine_function

# Sends one JSON-able dict to the client, e.g. `SocketServer.write_json`.
ReplyCallback = Callable[[dict[str, typing.Any]], Awaitable[None]]
# A command: a coroutine method taking the command's parameters as keywords.
CommandMethod = Callable[..., Awaitable[None]]


class ResponseCode(enum.IntEnum):
    """The ``"response"`` value of the reply to a command.

    Every command gets exactly one reply, ``{"response": code}``; a reply
    with a nonzero code also has a ``"message"`` saying what went wrong.
    """

    OK = 0
    """The command ran."""
    UNKNOWN_COMMAND = 1
    """No method handles a command of that name."""
    BAD_PARAMETERS = 2
    """The parameters do not fit the command's signature, or the command
    rejected their values with `ValueError`."""
    COMMAND_FAILED = 3
    """The command raised some other exception."""
    INVALID_MESSAGE = 4
    """The line was not a JSON object ``{"command": str, "parameters":
    dict}`` (sent by `SocketServer`)."""
    NO_COMMAND_HANDLER = 5
    """The server has no command handler yet (sent by `SocketServer`)."""


class AbstractCommandHandler(abc.ABC):
    """Run the commands a `SocketServer` receives and reply to them.

    Subclasses implement `make_dispatch_dict`, which maps command names to
    coroutine methods. A command that starts a stream of telemetry runs it
    in a task given to `start_telemetry_task`, so that the server's read
    loop keeps reading (and heartbeats keep being noticed) meanwhile.

    Parameters
    ----------
    callback : coroutine function
        Sends one JSON-able dict to the client; typically the server's
        `~tcpframe.BaseClientOrServer.write_json`.
    simulation_mode : `int`, optional
        0 to talk to real hardware, 1 to simulate it.
    log : `logging.Logger` or None, optional
        Logger; this handler logs to a child of it (of this module's
        logger if None).

    Attributes
    ----------
    callback : coroutine function
        The ``callback`` argument.
    simulation_mode : `int`
        The ``simulation_mode`` argument.
    dispatch_dict : `dict` [`str`, coroutine function]
        Command name: method that runs the command.
    telemetry_task : `asyncio.Future`
        The task sending telemetry; done when none is being sent.
    log : `logging.Logger`
        Child logger.

    Raises
    ------
    TypeError
        If ``callback``, or a method in `dispatch_dict`, is not a coroutine
        function.
    ValueError
        If ``simulation_mode`` is not in `valid_simulation_modes`.
    """

    valid_simulation_modes: tuple[int, ...] = (0, 1)

    def __init__(
        self, callback: ReplyCallback, simulation_mode: int = 0, log: logging.Logger | None = None
    ) -> None:
        require_coroutine_function(callback, "callback")
        if simulation_mode not in self.valid_simulation_modes:
            raise ValueError(
                f"simulation_mode={simulation_mode!r} not in valid_simulation_modes={self.valid_simulation_modes}"
            )
        self.log = (log or logging.getLogger(__name__)).getChild(type(self).__name__)
        self.callback = callback
        self.simulation_mode = simulation_mode
        self.telemetry_task: asyncio.Future[typing.Any] = asyncio.Future()
        self.telemetry_task.set_result(None)
        self.dispatch_dict: dict[str, CommandMethod] = self.make_dispatch_dict()
        for command, method in self.dispatch_dict.items():
            require_coroutine_function(method, f"dispatch_dict[{command!r}]")

    @abc.abstractmethod
    def make_dispatch_dict(self) -> dict[str, CommandMethod]:
        """Return the map of command name to the coroutine method that runs it.

        Each method takes the command's parameters as keyword arguments and
        raises `ValueError` to reject their values.
        """
        raise NotImplementedError()

    async def handle_command(self, command: str, /, **parameters: typing.Any) -> None:
        """Run one command and send the reply.

        The reply is ``{"response": 0}`` once the command's method has
        returned, or a nonzero `ResponseCode` with a ``"message"``. Never
        raises: a failing command, or a reply that cannot be sent, is
        logged.

        Parameters
        ----------
        command : `str`
            Name of the command, a key of `dispatch_dict`.
        **parameters
            Keyword arguments for the command's method.
        """
        method = self.dispatch_dict.get(command)
        if method is None:
            await self.send_reply(ResponseCode.UNKNOWN_COMMAND, f"Unknown command {command!r}")
            return
        try:
            inspect.signature(method).bind(**parameters)
        except TypeError as e:
            await self.send_reply(ResponseCode.BAD_PARAMETERS, f"Bad parameters for {command!r}: {e}")
            return
        try:
            await method(**parameters)
        except ValueError as e:
            await self.send_reply(ResponseCode.BAD_PARAMETERS, f"Bad parameters for {command!r}: {e}")
        except Exception as e:
            self.log.exception("Command %r failed", command)
            await self.send_reply(ResponseCode.COMMAND_FAILED, f"Command {command!r} failed: {e!r}")
        else:
            await self.send_reply(ResponseCode.OK)

    async def send_reply(self, response: ResponseCode, message: str = "") -> None:
        """Send the reply to a command; log (not raise) if that fails.

        Parameters
        ----------
        response : `ResponseCode`
            The outcome of the command.
        message : `str`, optional
            What went wrong; sent only with a nonzero code.
        """
        reply: dict[str, typing.Any] = {"response": int(response)}
        if response != ResponseCode.OK:
            reply["message"] = message
            self.log.warning("Replying %s: %s", response.name, message)
        try:
            await self.callback(reply)
        except Exception as e:
            self.log.warning("Could not send reply %s: %r", reply, e)

    def start_telemetry_task(self, coro: Coroutine[typing.Any, typing.Any, None]) -> None:
        """Run ``coro``, which sends telemetry, as `telemetry_task`.

        Parameters
        ----------
        coro : coroutine
            Sends telemetry with `callback` until cancelled.

        Raises
        ------
        RuntimeError
            If telemetry is already being sent (``coro`` is closed).
        """
        if not self.telemetry_task.done():
            coro.close()
            raise RuntimeError("Already sending telemetry; stop it first")
        self.telemetry_task = asyncio.create_task(coro)
        self.telemetry_task.add_done_callback(self._log_telemetry_failure)

    def _log_telemetry_failure(self, task: asyncio.Future[typing.Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Telemetry task failed", exc_info=task.exception())

    async def stop_sending_telemetry(self) -> None:
        """Stop `telemetry_task`, if running, and wait until it has ended.

        Always safe to call, also from the telemetry task itself.
        """
        task = self.telemetry_task
        if task.done() or task is asyncio.current_task():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are being cancelled too
        except Exception:
            pass  # logged by _log_telemetry_failure
