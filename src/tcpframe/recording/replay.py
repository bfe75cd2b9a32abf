"""Replay or inspect a recording from the command line.

Serve the recorded server side to one client at a time::

    python -m tcpframe.replay FILE --port PORT [--speed X] [--paced] [--check] [--once]

or print its duration, bytes, chunks and rates per direction::

    python -m tcpframe.replay FILE --summary

See `tcpframe.ReplayServer` and `tcpframe.recording`.
"""

from __future__ import annotations

__all__ = ["main", "print_summary", "serve"]

import argparse
import asyncio
import logging
import math
import sys
import typing

from ..constants import LOCALHOST_IPV4
from .cli import port_number, stop_on_signals
from .format import Direction, PathType, RecordingError, RecordingReader, RecordingSummary
from .recorder import format_address
from .replay_server import ReplayMismatchError, ReplayServer


def print_summary(path: PathType) -> bool:
    """Print the summary of a recording; return False if it is truncated or corrupt.

    The summary of the good records is printed either way, then the error.
    """
    with RecordingReader(path) as reader:
        summary = RecordingSummary(reader.header)
        try:
            for record in reader:
                summary.add(record)
        except RecordingError as e:
            print(summary.format(), flush=True)
            print(f"error: {e}", file=sys.stderr, flush=True)
            return False
        assert reader.end_timestamp is not None
        summary.duration = reader.end_timestamp / 1e9
    print(summary.format(), flush=True)
    return True


async def serve(server: ReplayServer, once: bool) -> bool:
    """Replay to each client in turn until SIGINT/SIGTERM, printing each outcome.

    Parameters
    ----------
    server : `ReplayServer`
        The server, just constructed.
    once : `bool`
        Stop after the first client's replay?

    Returns
    -------
    ok : `bool`
        False if a replay failed (a mismatch, or a bad recording).
    """
    ok = True
    with stop_on_signals() as stop:
        stopping: asyncio.Future[typing.Any] = asyncio.create_task(stop.wait())
        try:
            await server.start_task
            mode = "paced by the client" if server.paced else "timed"
            speed = "as fast as possible" if math.isinf(server.speed) else f"at {server.speed:g}x speed"
            print(
                f"Replaying {server.path} on {server.host}:{server.port}, {mode}, {speed}; press Ctrl-C to stop",
                flush=True,
            )
            while not stop.is_set():
                await asyncio.wait([server.connected_task, stopping], return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    break
                assert server.writer is not None
                client = format_address(server.writer.get_extra_info("peername"))
                replay = server.replay_task
                await asyncio.wait([replay, stopping], return_when=asyncio.FIRST_COMPLETED)
                if not replay.done():
                    break
                sent = server.traffic[Direction.SERVER_TO_CLIENT].describe()
                received = server.traffic[Direction.CLIENT_TO_SERVER].describe()
                try:
                    outcome = "replay complete" if replay.result() else "the client closed first"
                except (ReplayMismatchError, RecordingError) as e:
                    ok = False
                    outcome = f"replay failed: {e}"
                print(f"client {client}: sent {sent}, received {received}; {outcome}", flush=True)
                if once:
                    break
        finally:
            stopping.cancel()
            await server.close()
    return ok


def main(args: list[str] | None = None) -> None:
    """Replay or inspect a recording from the command line.

    Parameters
    ----------
    args : `list` [`str`] or None, optional
        Command-line arguments; `sys.argv` if None.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tcpframe.replay",
        description="Play the server side of a recording to one client at a time, or summarize it.",
    )
    parser.add_argument("file", metavar="FILE", help="the recording")
    parser.add_argument("--summary", action="store_true", help="print duration, bytes, chunks and rates, and exit")
    parser.add_argument("--port", type=port_number, default=0, help="port to listen on (default 0: a free one)")
    parser.add_argument("--host", default=LOCALHOST_IPV4, help=f"address to listen on (default {LOCALHOST_IPV4})")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="times faster than recorded (default 1; inf: as fast as possible)"
    )
    parser.add_argument("--paced", action="store_true", help="send each chunk once the client has sent its bytes")
    parser.add_argument("--check", action="store_true", help="check the client sends the recorded client's bytes")
    parser.add_argument("--once", action="store_true", help="exit after the first client's replay")
    parsed = parser.parse_args(args)
    if not parsed.speed > 0:
        parser.error(f"--speed {parsed.speed} must be positive")
    try:
        if parsed.summary:
            ok = print_summary(parsed.file)
        else:
            logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

            async def replay() -> bool:
                server = ReplayServer(
                    parsed.file,
                    speed=parsed.speed,
                    paced=parsed.paced,
                    check=parsed.check,
                    port=parsed.port,
                    host=parsed.host,
                )
                return await serve(server, parsed.once)

            ok = asyncio.run(replay())
    except (OSError, RecordingError) as e:
        parser.exit(1, f"Replay failed: {e}\n")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
