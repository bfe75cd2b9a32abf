"""A misbehaving peer for the hardening tests: a raw non-blocking socket.

The hardening tests drive one end of a loopback connection by hand, with
the ``loop.sock_*`` calls, so that they can send garbage, send one byte at
a time, stop reading, half-close or reset the connection whenever they
like, while tcpframe runs the other end in the same event loop.
"""

from __future__ import annotations

import asyncio
import socket
import struct

# Longest a hardening test waits for anything (s).
STD_TIMEOUT = 5

LOCALHOST = "127.0.0.1"


async def within_timeout(awaitable: object, timeout: float = STD_TIMEOUT) -> object:
    """Await ``awaitable``; fail with TimeoutError after ``timeout`` s."""
    return await asyncio.wait_for(awaitable, timeout)  # type: ignore[arg-type]


class RawPeer:
    """One end of a TCP connection, driven by hand.

    Parameters
    ----------
    sock : `socket.socket`
        A connected socket; made non-blocking and owned by this object.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.loop = asyncio.get_running_loop()

    @classmethod
    async def connect(cls, port: int, host: str = LOCALHOST) -> RawPeer:
        """Connect a raw socket to ``host:port``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await within_timeout(asyncio.get_running_loop().sock_connect(sock, (host, port)))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def send(self, data: bytes) -> None:
        """Send all of ``data``."""
        await within_timeout(self.loop.sock_sendall(self.sock, data))

    async def send_bytewise(self, data: bytes, delay: float = 0.001) -> None:
        """Send ``data`` one byte per ``send()``, sleeping ``delay`` s between."""
        for i in range(len(data)):
            await self.send(data[i : i + 1])
            await asyncio.sleep(delay)

    async def recv_exactly(self, n: int, timeout: float = STD_TIMEOUT) -> bytes:
        """Receive exactly ``n`` bytes; fail at EOF or after ``timeout`` s."""
        chunks = []
        received = 0
        async with asyncio.timeout(timeout):
            while received < n:
                chunk = await self.loop.sock_recv(self.sock, min(n - received, 2**20))
                if not chunk:
                    raise EOFError(f"EOF after {received} of {n} bytes")
                chunks.append(chunk)
                received += len(chunk)
        return b"".join(chunks)

    async def recv_until_eof(self, timeout: float = STD_TIMEOUT) -> bytes:
        """Receive until the other end closes; return everything received.

        A reset counts as a close (the reset is what the other end did to a
        connection it refused).
        """
        chunks = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    chunk = await self.loop.sock_recv(self.sock, 2**16)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)

    def shutdown_write(self) -> None:
        """Half-close: send FIN, keep receiving."""
        self.sock.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        """Close with RST instead of FIN (SO_LINGER on with a zero timeout)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def shrink_receive_buffer(self, nbytes: int = 4096) -> None:
        """Make the kernel buffer little of what the other end sends us."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, nbytes)

    def close(self) -> None:
        self.sock.close()


class RawListener:
    """A raw listening socket on a free loopback port, for tcpframe clients."""

    def __init__(self) -> None:
        self.sock = socket.create_server((LOCALHOST, 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]

    async def accept(self) -> RawPeer:
        """Accept the next connection as a `RawPeer`."""
        sock, _ = await within_timeout(asyncio.get_running_loop().sock_accept(self.sock))
        return RawPeer(sock)

    def close(self) -> None:
        self.sock.close()
