"""The benchmark peer: a plain blocking-socket server in its own process.

Run as ``python -m benchmarks.peer``: it listens on 127.0.0.1, port 0,
prints the port on one line of stdout, and serves each connection in a
thread. A connection starts with a control line ``{scenario} {count}\\n``;
then, by the scenario's direction, the peer

- ``recv``: sends ``count`` messages (its prebuilt chunk, again and again);
- ``send``: receives exactly the expected bytes, checks every one of
  them, and then answers ``OK\\n`` (``BAD\\n`` if any is wrong);
- ``roundtrip``: answers each of ``count`` ``\\r``-terminated commands
  with a checksummed reply (and hangs up on a bad checksum);

and finally waits for the client to close. Being a separate process with
blocking sockets, it costs the implementation under test nothing but the
loopback transfer itself.
"""

from __future__ import annotations

__all__ = ["running_peer"]

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np

from . import PROJECT_ROOT
from .scenarios import COMMAND_TERMINATOR, HOST, SCENARIOS, Scenario, reply_checksum_ok, reply_frame

RECEIVE_SIZE = 2**20


class PeerError(Exception):
    """A client broke the benchmark protocol."""


class BufferedSocket:
    """A blocking socket with a receive buffer, for terminated reads.

    Parameters
    ----------
    sock : `socket.socket`
        A connected blocking socket.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffered = bytearray()

    def read_until(self, terminator: bytes) -> bytes:
        """Read through ``terminator``, which is included.

        Raises
        ------
        PeerError
            If the client closes first.
        """
        start = 0
        while (end := self.buffered.find(terminator, start)) < 0:
            start = max(0, len(self.buffered) - len(terminator) + 1)
            data = self.sock.recv(RECEIVE_SIZE)
            if not data:
                raise PeerError(f"client closed before {terminator!r}")
            self.buffered += data
        end += len(terminator)
        line = bytes(self.buffered[:end])
        del self.buffered[:end]
        return line

    def receive_exactly_into(self, view: memoryview) -> None:
        """Fill ``view``: buffered bytes first, then from the socket.

        Raises
        ------
        PeerError
            If the client closes first.
        """
        filled = min(len(view), len(self.buffered))
        view[:filled] = self.buffered[:filled]
        del self.buffered[:filled]
        while filled < len(view):
            nbytes = self.sock.recv_into(view[filled:])
            if not nbytes:
                raise PeerError(f"client closed after {filled} of the {len(view)} bytes of a block")
            filled += nbytes


def send_messages(sock: socket.socket, scenario: Scenario, count: int) -> None:
    """Send ``count`` messages of ``scenario``."""
    chunks, rest = divmod(count, scenario.messages_per_chunk)
    chunk = scenario.chunk
    for _ in range(chunks):
        sock.sendall(chunk)
    if rest:
        sock.sendall(chunk[: scenario.stream_bytes(rest)])


def receive_messages(connection: BufferedSocket, scenario: Scenario, count: int) -> None:
    """Receive ``count`` messages, checking every byte; then answer.

    The answer, ``OK`` (every byte as expected) or ``BAD``, goes out only
    once the last byte is in, so a client that waits for it has had all
    its messages delivered. The messages arrive in blocks of about
    `RECEIVE_SIZE` bytes; in each, the counters (of a `Scenario.counted`
    scenario) are checked and zeroed, and then the block must equal
    message 0 repeated. Nothing is allocated per block, so the peer keeps
    up with a sender at 1 GB/s.
    """
    size = len(scenario.message(0))
    per_block = max(1, RECEIVE_SIZE // size)
    expected = scenario.message(0) * per_block
    block = bytearray(len(expected))
    view = memoryview(block)
    counters = None
    if scenario.counted:
        messages_dtype = np.dtype([("counter", np.uint32), ("rest", f"V{size - 4}")])
        counters = np.frombuffer(block, messages_dtype)["counter"]
    good = True
    for first in range(0, count, per_block):
        messages = min(per_block, count - first)
        nbytes = messages * size
        connection.receive_exactly_into(view[:nbytes])
        if counters is not None:
            good = good and np.array_equal(counters[:messages], np.arange(first, first + messages))
            counters[:messages] = 0
        # A whole block is compared as it is; only the last may be shorter.
        received = block if nbytes == len(block) else block[:nbytes]
        good = good and received == expected[:nbytes]
    connection.sock.sendall(b"OK\n" if good else b"BAD\n")


def answer_commands(connection: BufferedSocket, count: int) -> None:
    """Answer ``count`` checksummed commands."""
    replies: dict[bytes, bytes] = {}
    for _ in range(count):
        command = connection.read_until(COMMAND_TERMINATOR)
        reply = replies.get(command)
        if reply is None:
            if not reply_checksum_ok(command):
                raise PeerError(f"bad checksum in command {command!r}")
            reply = replies[command] = reply_frame(command)
        connection.sock.sendall(reply)


def serve_connection(sock: socket.socket) -> None:
    """Serve one benchmark connection; close it when the client does."""
    with sock:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = BufferedSocket(sock)
            name, count_text = connection.read_until(b"\n").decode().split()
            scenario, count = SCENARIOS[name], int(count_text)
            if scenario.direction == "recv":
                send_messages(sock, scenario, count)
            elif scenario.direction == "send":
                receive_messages(connection, scenario, count)
            else:
                answer_commands(connection, count)
            while sock.recv(RECEIVE_SIZE):
                pass
        except (OSError, PeerError, KeyError, ValueError) as error:
            print(f"benchmark peer: connection ended: {error!r}", file=sys.stderr)


def serve(listener: socket.socket) -> None:
    """Accept connections forever, serving each in a daemon thread."""
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve_connection, args=(sock,), daemon=True).start()


@contextlib.contextmanager
def running_peer() -> Iterator[int]:
    """Run the peer in a subprocess; yield its port; stop it on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.peer"], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"benchmark peer failed to start (said {line!r})")
        yield int(line)
    finally:
        process.terminate()
        process.wait()
        if process.stdout:
            process.stdout.close()


def main() -> None:
    """Listen, print the port, and serve until killed."""
    # Build every chunk now, not during a measurement.
    for scenario in SCENARIOS.values():
        _ = scenario.chunk
    with socket.create_server((HOST, 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        serve(listener)


if __name__ == "__main__":
    main()
