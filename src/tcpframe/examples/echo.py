"""An echo server on `~tcpframe.OneClientServer`.

Run it with ``python -m tcpframe.examples.echo [--host HOST] [--port N]``;
it prints the port it listens on and runs until Ctrl-C.
"""

from __future__ import annotations

__all__ = ["EchoServer", "main"]

import argparse
import asyncio
import logging
import typing

from ..constants import LOCAL_HOST
from ..recording.cli import port_number
from ..tcpip.base_client_or_server import BaseClientOrServer, make_done_future
from ..tcpip.one_client_server import OneClientServer


class EchoServer(OneClientServer):
    """Serve one client at a time, sending back every line it sends.

    A line ends in `terminator` (``b"\\r\\n"`` by default).

    Parameters
    ----------
    port : `int`, optional
        Port to listen on; 0 picks a free port (then read `port` once
        `start_task` is done).
    host : `str` or None, optional
        Address to listen on; None for all interfaces.
    log : `logging.Logger` or None, optional
        Logger; the module's logger if None.
    **kwargs
        Passed to `~tcpframe.OneClientServer` (e.g. ``terminator``).

    Attributes
    ----------
    read_loop_task : `asyncio.Future`
        The task echoing the current client's lines; done when none is
        connected.
    """

    def __init__(
        self,
        port: int = 0,
        host: str | None = LOCAL_HOST,
        log: logging.Logger | None = None,
        **kwargs: typing.Any,
    ) -> None:
        log = log if log is not None else logging.getLogger("tcpframe.examples.echo")
        self.read_loop_task: asyncio.Future[typing.Any] = make_done_future()
        super().__init__(
            host=host,
            port=port,
            log=log,
            name="EchoServer",
            connect_callback=self._start_or_stop_read_loop,
            **kwargs,
        )

    @classmethod
    async def amain(cls, port: int = 0, host: str | None = LOCAL_HOST) -> None:
        """Run an echo server until cancelled, printing its port.

        Parameters
        ----------
        port : `int`, optional
            Port to listen on; 0 picks a free port.
        host : `str` or None, optional
            Address to listen on; None for all interfaces.
        """
        async with cls(port=port, host=host) as server:
            print(f"Echo server running on port {server.port}; press Ctrl-C to quit", flush=True)
            await server.done_task

    async def _start_or_stop_read_loop(self, server: BaseClientOrServer) -> None:
        # The read loop itself may be what noticed the disconnection.
        if self.read_loop_task is not asyncio.current_task():
            self.read_loop_task.cancel()
        if self.connected:
            self.read_loop_task = asyncio.create_task(self.read_loop())

    async def read_loop(self) -> None:
        """Echo each line of the client until it disconnects."""
        try:
            while self.connected:
                line = await self.readuntil(self.terminator)
                self.log.debug("Echoing %r", line)
                await self.write(line)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.log.info("Client disconnected")
        except asyncio.LimitOverrunError as e:
            self.log.error("Closing the client: a line is longer than the limit: %s", e)
        finally:
            if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                await self.close_client()


def main(args: list[str] | None = None) -> None:
    """Run an echo server from the command line until Ctrl-C.

    Parameters
    ----------
    args : `list` [`str`] or None, optional
        Command-line arguments; `sys.argv` if None.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tcpframe.examples.echo", description="Echo the lines of one TCP/IP client at a time."
    )
    parser.add_argument(
        "--port", type=port_number, default=0, help="port to listen on; 0 (the default) picks a free one"
    )
    parser.add_argument("--host", default=LOCAL_HOST, help=f"address to listen on (default {LOCAL_HOST})")
    parsed = parser.parse_args(args)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(EchoServer.amain(port=parsed.port, host=parsed.host))
    except KeyboardInterrupt:
        print("Echo server stopped", flush=True)
    except OSError as e:  # e.g. the port is in use
        parser.exit(1, f"Echo server could not listen on {parsed.host}:{parsed.port}: {e}\n")


if __name__ == "__main__":
    main()
