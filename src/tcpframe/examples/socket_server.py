"""A one-client server that runs JSON commands and streams JSON telemetry."""

from __future__ import annotations

__all__ = ["SocketServer"]

import json
import logging
import typing

from ..constants import HEARTBEAT_TEXT
from ..tcpip._callbacks import check_connect_callback
from ..tcpip.base_client_or_server import BaseClientOrServer, ConnectCallbackType
from ..tcpip.one_client_read_loop_server import OneClientReadLoopServer
from .command_handler import AbstractCommandHandler, ResponseCode


class SocketServer(OneClientReadLoopServer):
    """A one-client server that exchanges JSON messages over TCP/IP.

    The client sends one JSON object per line (lines end in `terminator`)::

        {"command": "start", "parameters": {"interval": 0.5}}

    ``"parameters"`` may be omitted. The server handles two commands
    itself, replying ``{"response": 0}`` first:

    * ``"disconnect"``: close the client; the server keeps listening.
    * ``"exit"``: close the client and the server (`done_task` is done).

    Every other command goes to the handler given to
    `set_command_handler`, which replies and may stream telemetry. A line
    that is not such an object gets a reply with
    `ResponseCode.INVALID_MESSAGE`; a command before a handler is set gets
    `ResponseCode.NO_COMMAND_HANDLER`. Either way the read loop goes on.

    A line that is exactly `~tcpframe.HEARTBEAT` is a heartbeat, not a
    command. With ``run_heartbeat_monitor_task`` true the server closes a
    client that sends none for ``max_heartbeat_interval`` s; otherwise
    heartbeats are accepted and ignored, so clients that never send them
    work too. That is why monitoring is off by default: turn it on for
    clients known to send heartbeats (e.g. `~tcpframe.Client` with
    ``run_heartbeat_send_task=True``).

    Parameters
    ----------
    name : `str`
        Name used in log messages.
    host : `str` or None
        Address to listen on; None for all interfaces.
    port : `int`
        Port to listen on; 0 picks a free port.
    log : `logging.Logger`
        Logger.
    simulation_mode : `int`, optional
        0 for real hardware, 1 to simulate it.
    connect_callback : coroutine function or None, optional
        Called with this server when a client connects or disconnects.
    **kwargs
        Passed to `~tcpframe.OneClientReadLoopServer`, e.g.
        ``run_heartbeat_monitor_task`` (close the client if it stops
        sending heartbeats?) and ``max_heartbeat_interval`` (the longest
        allowed time between heartbeats when monitoring, s).

    Attributes
    ----------
    simulation_mode : `int`
        The ``simulation_mode`` argument.
    command_handler : `AbstractCommandHandler` or None
        Runs the commands; None until `set_command_handler` is called.

    Raises
    ------
    ValueError
        If ``simulation_mode`` is not in `valid_simulation_modes`.
    TypeError
        If ``connect_callback`` is not None and not a coroutine function.
    """

    valid_simulation_modes: tuple[int, ...] = (0, 1)

    def __init__(
        self,
        name: str,
        host: str | None,
        port: int,
        log: logging.Logger,
        simulation_mode: int = 0,
        connect_callback: ConnectCallbackType | None = None,
        **kwargs: typing.Any,
    ) -> None:
        # Check before the base class starts listening.
        if simulation_mode not in self.valid_simulation_modes:
            raise ValueError(
                f"simulation_mode={simulation_mode!r} not in valid_simulation_modes={self.valid_simulation_modes}"
            )
        check_connect_callback(connect_callback)  # the base sees only _connection_changed
        self.simulation_mode = simulation_mode
        self.command_handler: AbstractCommandHandler | None = None
        self._socket_server_connect_callback = connect_callback
        super().__init__(
            port=port,
            host=host,
            log=log,
            connect_callback=self._connection_changed,
            name=name,
            **kwargs,
        )

    def set_command_handler(self, command_handler: AbstractCommandHandler) -> None:
        """Set the handler that runs commands other than exit and disconnect.

        Call it before the client sends commands; typically the handler's
        callback is this server's `write_json`.

        Parameters
        ----------
        command_handler : `AbstractCommandHandler`
            The command handler.
        """
        self.command_handler = command_handler

    async def read_and_dispatch(self) -> None:
        """Read one line and handle it as a heartbeat or a command."""
        try:
            line = await self.read_str()
        except UnicodeError as e:
            await self.reply_invalid_message(f"Could not decode a line as {self.encoding}: {e}")
            return
        if line == HEARTBEAT_TEXT:
            if self.run_heartbeat_monitor_task:
                await self.handle_received_heartbeat()
            return
        try:
            message = json.loads(line)
        except json.JSONDecodeError as e:
            await self.reply_invalid_message(f"Could not parse {line!r} as JSON: {e.msg}")
            return
        except RecursionError:
            await self.reply_invalid_message("JSON nested too deeply to parse")
            return
        if not (isinstance(message, dict) and isinstance(message.get("command"), str)):
            await self.reply_invalid_message(f"{line!r} is not an object with a str 'command'")
            return
        command = message["command"]
        parameters = message.get("parameters", {})
        if not isinstance(parameters, dict):
            await self.reply_invalid_message(f"The parameters of {command!r} are not an object: {parameters!r}")
            return
        await self.dispatch_command(command, parameters)

    async def dispatch_command(self, command: str, parameters: dict[str, typing.Any]) -> None:
        """Run one command: exit and disconnect here, others in the handler.

        Parameters
        ----------
        command : `str`
            Name of the command.
        parameters : `dict` [`str`, `typing.Any`]
            Its parameters.
        """
        self.log.debug("%s received command %r with parameters %s", self.name, command, parameters)
        if command == "disconnect":
            await self.write_json({"response": int(ResponseCode.OK)})
            await self.close_client()
        elif command == "exit":
            await self.write_json({"response": int(ResponseCode.OK)})
            await self.close()
        elif self.command_handler is None:
            await self.write_json(
                {
                    "response": int(ResponseCode.NO_COMMAND_HANDLER),
                    "message": f"No command handler to run {command!r}",
                }
            )
        else:
            try:
                await self.command_handler.handle_command(command, **parameters)
            except Exception as e:
                # handle_command should not raise; if it does, keep reading.
                self.log.exception("%s command handler failed on %r", self.name, command)
                await self.write_json(
                    {"response": int(ResponseCode.COMMAND_FAILED), "message": f"Command {command!r} failed: {e!r}"}
                )

    async def reply_invalid_message(self, message: str) -> None:
        """Log a malformed line and tell the client.

        Parameters
        ----------
        message : `str`
            What is wrong with the line.
        """
        self.log.warning("%s: %s", self.name, message)
        await self.write_json({"response": int(ResponseCode.INVALID_MESSAGE), "message": message})

    async def close_client(self, cancel_read_loop_task: bool = True) -> None:
        """Stop the handler's telemetry, then close the client.

        Parameters
        ----------
        cancel_read_loop_task : `bool`, optional
            Cancel the read loop? False when called from the read loop.
        """
        try:
            if self.command_handler is not None:
                await self.command_handler.stop_sending_telemetry()
        finally:
            await super().close_client(cancel_read_loop_task=cancel_read_loop_task)

    async def _connection_changed(self, server: BaseClientOrServer) -> None:
        if not self.connected and self.command_handler is not None:
            # The client went away without close_client (e.g. it closed).
            await self.command_handler.stop_sending_telemetry()
        if self._socket_server_connect_callback is not None:
            await self._socket_server_connect_callback(self)
