"""What idle connections cost: CPU of many connected, idle `tcpframe.Client`\\ s.

A peer process (plain blocking sockets) accepts the connections and then
does nothing; this process connects ``--clients`` clients, lets them
settle for a second, and reports the process CPU time (user + system,
`resource.getrusage`) spent over ``--seconds`` of idleness, as a
percentage of one core::

    PYTHONPATH=src python -m benchmarks.idle --clients 200 --seconds 20
    PYTHONPATH=src python -m benchmarks.idle --loop uvloop --interval 0

Every client keeps lsst.ts.tcpip's default ``monitor_connection_interval``
(0.1 s) unless ``--interval`` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import subprocess
import sys
import time

_PEER = """
import socket, sys
listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
print(listener.getsockname()[1], flush=True)
import threading
held = []
def accept():
    while True:
        held.append(listener.accept()[0])
threading.Thread(target=accept, daemon=True).start()
sys.stdin.read()
"""


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(port: int, clients: int, seconds: float, interval: float) -> float:
    """Connect ``clients`` clients to ``port``, stay idle ``seconds`` s,
    and return the CPU used meanwhile as a fraction of one core."""
    import tcpframe

    log = logging.getLogger("idle")
    opened = [
        tcpframe.Client("127.0.0.1", port, log, monitor_connection_interval=interval) for _ in range(clients)
    ]
    try:
        await asyncio.gather(*(client.start_task for client in opened))
        await asyncio.sleep(1)
        cpu, wall = _cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
        if not all(client.connected for client in opened):
            raise RuntimeError("a client lost its connection while idle")
    finally:
        await asyncio.gather(*(client.close() for client in opened))
    return cpu / wall


def main(argv: list[str] | None = None) -> None:
    """Run the measurement and print the result."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.idle", description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.1, help="monitor_connection_interval (s)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args(argv)
    peer = subprocess.Popen(
        [sys.executable, "-c", _PEER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert peer.stdout is not None
        port = int(peer.stdout.readline())
        if args.loop == "uvloop":
            import uvloop

            fraction = uvloop.run(measure(port, args.clients, args.seconds, args.interval))
        else:
            fraction = asyncio.run(measure(port, args.clients, args.seconds, args.interval))
    finally:
        if peer.stdin is not None:
            peer.stdin.close()
        peer.wait()
    import tcpframe

    mode = "compiled" if tcpframe.ACCELERATED else "twins"
    print(
        f"{args.clients} idle clients ({mode}, {args.loop}, monitor_connection_interval={args.interval}): "
        f"{100 * fraction:.3f}% of a core over {args.seconds:g} s"
    )


if __name__ == "__main__":
    main()
