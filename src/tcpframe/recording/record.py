"""Record a TCP session from the command line.

As a transparent proxy between a client and a real server::

    python -m tcpframe.record --listen PORT --to HOST:PORT --out FILE

or as a plain client of the server::

    python -m tcpframe.record --connect HOST:PORT --out FILE

It prints progress (bytes and rate per direction) every ``--progress``
seconds and stops when the session ends or on Ctrl-C, leaving the file
complete. See `tcpframe.Recorder` and `tcpframe.recording`.
"""

from __future__ import annotations

__all__ = ["Progress", "main", "run"]

import argparse
import asyncio
import logging
import typing

from ..constants import LOCALHOST_IPV4
from .cli import host_and_port, port_number, stop_on_signals
from .format import format_bytes
from .recorder import Recorder


class Progress:
    """Progress lines of a recorder: bytes so far, and rate since the last line, per direction.

    Parameters
    ----------
    recorder : `Recorder`
        The recorder, started.
    """

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._elapsed = recorder.elapsed()
        self._nbytes = {direction: traffic.nbytes for direction, traffic in recorder.traffic.items()}

    def line(self) -> str:
        """Return the progress line for now."""
        elapsed = self._recorder.elapsed()
        interval, self._elapsed = elapsed - self._elapsed, elapsed
        parts = [f"{elapsed:8.1f} s"]
        for direction, traffic in self._recorder.traffic.items():
            rate = (traffic.nbytes - self._nbytes[direction]) / interval if interval > 0 else 0.0
            self._nbytes[direction] = traffic.nbytes
            parts.append(f"{direction.label} {format_bytes(traffic.nbytes)} ({format_bytes(rate)}/s)")
        return "  ".join(parts)


async def run(recorder: Recorder, progress_interval: float) -> None:
    """Record until the session ends or SIGINT/SIGTERM, printing progress.

    Parameters
    ----------
    recorder : `Recorder`
        The recorder, not started.
    progress_interval : `float`
        Seconds between progress lines; 0 for none.

    Raises
    ------
    OSError
        If the recording cannot start, or the session fails.
    """
    with stop_on_signals() as stop:
        async with recorder:
            where = f"proxy on {recorder.host}:{recorder.port} for" if recorder.is_proxy else "client of"
            print(
                f"Recording to {recorder.path} as a {where} {recorder.server_host}:{recorder.server_port}; "
                "press Ctrl-C to stop",
                flush=True,
            )
            stopping = asyncio.create_task(stop.wait())
            ends: list[asyncio.Future[typing.Any]] = [recorder.done_task, stopping]
            progress = Progress(recorder)
            while not (recorder.done_task.done() or stop.is_set()):
                await asyncio.wait(
                    ends,
                    timeout=progress_interval if progress_interval > 0 else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if progress_interval > 0 and not (recorder.done_task.done() or stop.is_set()):
                    print(progress.line(), flush=True)
            stopping.cancel()
            elapsed = recorder.elapsed()
    lines = [f"Recording complete: {recorder.path}, {elapsed:.1f} s"]
    lines += [f"  {direction.label}: {traffic.describe(elapsed)}" for direction, traffic in recorder.traffic.items()]
    print("\n".join(lines), flush=True)


def main(args: list[str] | None = None) -> None:
    """Record a TCP session from the command line.

    Parameters
    ----------
    args : `list` [`str`] or None, optional
        Command-line arguments; `sys.argv` if None.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tcpframe.record",
        description="Record both directions of a TCP session, with timestamps, to a file.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--listen", type=port_number, metavar="PORT", help="listen on PORT as a proxy (0 picks a free one)"
    )
    mode.add_argument(
        "--connect", type=host_and_port, metavar="HOST:PORT", help="record the server at HOST:PORT as a client"
    )
    parser.add_argument("--to", type=host_and_port, metavar="HOST:PORT", help="the server the proxy connects to")
    parser.add_argument("--out", required=True, metavar="FILE", help="the recording file to write")
    parser.add_argument(
        "--listen-host", default=LOCALHOST_IPV4, metavar="HOST", help=f"proxy address (default {LOCALHOST_IPV4})"
    )
    parser.add_argument(
        "--progress", type=float, default=1.0, metavar="SECONDS", help="seconds between progress lines (0: none)"
    )
    parsed = parser.parse_args(args)
    if parsed.listen is not None and parsed.to is None:
        parser.error("--listen needs --to HOST:PORT")
    if parsed.connect is not None and parsed.to is not None:
        parser.error("--to goes with --listen, not --connect")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    async def record() -> None:
        host, port = parsed.to if parsed.listen is not None else parsed.connect
        recorder = Recorder(parsed.out, host, port, listen_port=parsed.listen, listen_host=parsed.listen_host)
        await run(recorder, parsed.progress)

    try:
        asyncio.run(record())
    except OSError as e:
        parser.exit(1, f"Recording failed: {e}\n")


if __name__ == "__main__":
    main()
