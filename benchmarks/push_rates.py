"""Push API rates against the per-message await and raw ``recv_into``.

A standalone measurement (``python -m benchmarks.push_rates``; not yet a
row of the runner): a peer thread sends a prebuilt stream of 32-byte
structs or ~32-byte lines over loopback TCP; the consumer touches one
field per message. Prints the median of ``--runs`` runs of each path, in
messages/s and MB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import socket
import statistics
import threading
import time
import typing

import numpy as np

import tcpframe


class Telemetry(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint64), ("a", ctypes.c_double), ("b", ctypes.c_double), ("c", ctypes.c_double)]


DTYPE = np.dtype([("sequence", "<u8"), ("a", "<f8"), ("b", "<f8"), ("c", "<f8")])
SIZE = ctypes.sizeof(Telemetry)
LINE = b"$GPXXX,123.456,789.012,A*00\r\n" + b"\x00" * 0  # 30 bytes + terminator
LINE = LINE[:-2].ljust(30, b"0") + b"\r\n"  # 32 bytes with the terminator


def serve(count: int, kind: str) -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0))
    chunk_messages = 2048
    if kind == "lines":
        chunk = LINE * chunk_messages
    else:
        chunk = b"".join(bytes(Telemetry(i, 1.0, 2.0, 3.0)) for i in range(chunk_messages))

    def run() -> None:
        connection, _ = listener.accept()
        with connection:
            for _ in range(count // chunk_messages):
                connection.sendall(chunk)
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener, listener.getsockname()[1]


async def consume(path: str, count: int) -> float:
    kind = "lines" if "line" in path else "structs"
    _, port = serve(count, kind)
    total = 0.0
    if path == "raw recv_into":
        sock = socket.create_connection(("127.0.0.1", port))
        buffer = bytearray(2**16)
        view = memoryview(buffer)
        received = 0
        start = time.perf_counter()
        while received < count * SIZE:
            n = sock.recv_into(view)
            if not n:
                break
            received += n
        elapsed = time.perf_counter() - start
        sock.close()
        return elapsed
    client = tcpframe.Client("127.0.0.1", port, log=logging.getLogger("bench"))
    await client.start_task
    start = time.perf_counter()
    if path == "await read_into (structs)":
        s = Telemetry()
        for _ in range(count):
            await client.read_into(s)
            total += s.a
    elif path == "await read_str (lines)":
        for _ in range(count):
            line = await client.read_str()
            total += len(line)
    else:
        done = asyncio.get_running_loop().create_future()
        seen = 0

        def on_struct(s: typing.Any) -> None:
            nonlocal total, seen
            total += s.a
            seen += 1
            if seen == count:
                done.set_result(None)

        def on_line(line: str) -> None:
            nonlocal total, seen
            total += len(line)
            seen += 1
            if seen == count:
                done.set_result(None)

        def on_records(records: typing.Any) -> None:
            nonlocal total, seen
            total += float(records["a"][-1])
            seen += len(records)
            if seen == count:
                done.set_result(None)

        if path == "push_structs":
            pushed = client.push_structs(Telemetry, on_struct)
        elif path == "push_lines":
            pushed = client.push_lines(on_line)
        else:
            pushed = client.push_records(DTYPE, on_records)
        await done
        pushed.stop()
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


PATHS = [
    "await read_into (structs)",
    "push_structs",
    "push_records (batch view)",
    "raw recv_into",
    "await read_str (lines)",
    "push_lines",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2**20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    runner = asyncio.run
    if args.uvloop:
        import uvloop

        runner = uvloop.run  # type: ignore[assignment]
    times: dict[str, list[float]] = {path: [] for path in PATHS}
    for _ in range(args.runs):  # alternating runs
        for path in PATHS:
            times[path].append(runner(consume(path, args.count)))
    from tcpframe._kernels import ACTIVE

    print(f"kernels={ACTIVE.name} loop={'uvloop' if args.uvloop else 'asyncio'} count={args.count} runs={args.runs}")
    print(f"{'path':30} {'Mmsg/s':>8} {'MB/s':>8} {'ns/msg':>8}")
    for path in PATHS:
        elapsed = statistics.median(times[path])
        rate = args.count / elapsed
        print(f"{path:30} {rate / 1e6:8.2f} {rate * SIZE / 1e6:8.0f} {1e9 / rate:8.1f}")


if __name__ == "__main__":
    main()
