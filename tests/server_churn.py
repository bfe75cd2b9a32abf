"""Churn worker: stray connections at a one-client server, in a process of
its own, so that the memory it reports is the server's.

Run by tests/test_server_churn.py as
``python tests/server_churn.py SERVER CALLBACK LOOP``, where SERVER is
``OneClientServer`` or ``OneClientReadLoopServer``, CALLBACK ``plain`` or
``awaiting`` and LOOP ``asyncio`` or ``uvloop``; the kernels are those of
the environment (``TCPFRAME_PURE_PYTHON``). It prints one JSON object.

1. Warm up: a client comes and goes, strays are refused, so that what is
   allocated on first use is counted in the baseline. Then the baseline:
   fds, tasks, RSS; the peak RSS is reset (``/proc/self/clear_refs``).
2. No client: `NO_CLIENT_STRAYS` stray connections in bursts of `BURST`.
   Some are attached one after another (they must be reported True, False,
   ...); the rest are refused. For `OneClientServer`, which does not read,
   they reset (a client that sent junk and a FIN would be attached as long
   as its bytes are unread, as in lsst.ts.tcpip); for the read-loop server
   they reset or close, with and without junk.
3. A `tcpframe.Client` connects and round-trips; `CLIENT_STRAYS` stray
   connections (reset, junk then reset, junk then FIN) are refused in
   bursts of `BURST`; the client round-trips again.
4. The client and server close. Then the figures: fds and tasks left,
   peak RSS and RSS after, relative to the baseline.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import typing

import tcpframe
from junk_connections import (
    ENDINGS,
    Callback,
    DiscardingReadLoopServer,
    Watch,
    alternates,
    count_fds,
    other_tasks,
    round_trip,
    stray_burst,
    wait_until,
)

NO_CLIENT_STRAYS = 500
CLIENT_STRAYS = 1500
BURST = 50
# Longest wait for the server to settle (s): a failure, not a measurement.
SETTLE_TIMEOUT = 30
# The servers' listen backlog: with asyncio's default (100), uvloop's accept
# queue overflows now and then under bursts of BURST connects, and each
# overflow costs the stray clients a SYN retry (1 s).
BACKLOG = 1024

SERVER_CLASSES = {"OneClientServer": tcpframe.OneClientServer, "OneClientReadLoopServer": DiscardingReadLoopServer}


def memory_kib() -> dict[str, int]:
    """VmRSS and VmHWM of this process (KiB)."""
    figures = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                figures[name] = int(value.split()[0])
    return figures


def reset_peak_rss() -> None:
    """Make VmHWM start again from the current RSS (Linux)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


async def strays(port: int, count: int, endings: typing.Sequence[str]) -> None:
    for start in range(0, count, BURST):
        await stray_burst(port, min(BURST, count - start), endings)


async def churn(server_name: str, awaiting: bool) -> dict[str, typing.Any]:
    log = logging.getLogger("churn")
    log.setLevel(logging.INFO)  # refusals (WARNING) and connects (INFO) are logged, not shown
    log.propagate = False
    server_class = SERVER_CLASSES[server_name]
    no_client_endings = ENDINGS if server_class is DiscardingReadLoopServer else ("rst", "junk_rst")
    host = tcpframe.LOCALHOST_IPV4

    # 1. Warm up, then the baseline.
    async with server_class(host=host, port=0, log=log, backlog=BACKLOG) as server:
        async with tcpframe.Client(host=host, port=server.port, log=log) as client:
            await server.connected_task
            await strays(server.port, BURST, ENDINGS)
            await round_trip(server, client, "warm")
        await strays(server.port, BURST, no_client_endings)
    await wait_until(lambda: not other_tasks(), SETTLE_TIMEOUT)
    gc.collect()
    fds_before = count_fds()
    rss_before = memory_kib()["VmRSS"]
    reset_peak_rss()

    watch = Watch(log)
    callback = Callback(awaiting)
    server = server_class(host=host, port=0, log=log, connect_callback=callback.__call__, backlog=BACKLOG)
    client = None
    try:
        await server.start_task
        # 2. No client.
        await strays(server.port, NO_CLIENT_STRAYS, no_client_endings)
        await wait_until(lambda: count_fds() == fds_before + 1, SETTLE_TIMEOUT)  # + the listening socket
        await wait_until(
            lambda: (
                not server.connected and len(callback.states) % 2 == 0 and callback.returned == len(callback.states)
            ),
            SETTLE_TIMEOUT,
        )
        attached = callback.states.count(True)
        no_client_states_alternate = alternates(callback.states) and len(callback.states) % 2 == 0
        callback.states.clear()
        callback.returned = 0
        # 3. A client connected.
        client = tcpframe.Client(host=host, port=server.port, log=log)
        await client.start_task
        await server.connected_task
        await wait_until(lambda: callback.returned == 1, SETTLE_TIMEOUT)
        await round_trip(server, client, "before")
        fds_connected = count_fds()
        tasks_connected = other_tasks()
        await strays(server.port, CLIENT_STRAYS, ENDINGS)
        await wait_until(lambda: count_fds() == fds_connected and other_tasks() == tasks_connected, SETTLE_TIMEOUT)
        await round_trip(server, client, "after")
        client_states = list(callback.states)
    finally:
        # 4. Close.
        if client is not None:
            await client.close()
        await server.close()
        watch.stop()
    await wait_until(lambda: not other_tasks(), SETTLE_TIMEOUT)
    gc.collect()
    memory = memory_kib()
    return {
        "problems": watch.report(),
        "attached_without_client": attached,
        "no_client_states_alternate": no_client_states_alternate,
        "client_states": client_states,
        "states_after_close": callback.states[len(client_states) :],
        "fds_left": count_fds() - fds_before,
        "tasks_left": len(other_tasks()),
        "peak_rss_growth_kib": memory["VmHWM"] - rss_before,
        "rss_growth_after_kib": memory["VmRSS"] - rss_before,
        "accelerated": tcpframe.ACCELERATED,
    }


def main() -> None:
    server_name, callback_kind, loop_name = sys.argv[1:4]
    if loop_name == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    else:
        loop_factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(churn(server_name, callback_kind == "awaiting"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
