"""A misbehaving peer for the hardening tests: a raw non-blocking socket.

The hardening tests drive one end of a loopback connection by hand, with
the ``loop.sock_*`` calls, so that they can send garbage, send one byte at
a time, stop reading, half-close or reset the connection whenever they
like, while tcpframe runs the other end in the same event loop.

Given a TLS context, the peer speaks TLS over that socket through an
`ssl.SSLObject` and memory BIOs: every `RawPeer.send` is encrypted (one
byte per TLS record in `RawPeer.send_bytewise`), reads are decrypted, and
`RawPeer.close` sends close_notify first. A reset is still a TCP reset.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct

from conftest import STD_TIMEOUT

LOCALHOST = "127.0.0.1"


async def within_timeout(awaitable: object, timeout: float = STD_TIMEOUT) -> object:
    """Await ``awaitable``; fail with TimeoutError after ``timeout`` s."""
    return await asyncio.wait_for(awaitable, timeout)  # type: ignore[arg-type]


# The most plaintext encrypted at once: a flood is encrypted as it is sent.
TLS_SEND_CHUNK = 2**16


class RawPeer:
    """One end of a TCP connection, driven by hand.

    Parameters
    ----------
    sock : `socket.socket`
        A connected socket; made non-blocking and owned by this object.
    tls : `ssl.SSLContext` or None, optional
        Speak TLS with this context (call `handshake` first).
    server_side : `bool`, optional
        Is this the TLS server?
    """

    def __init__(self, sock: socket.socket, tls: ssl.SSLContext | None = None, server_side: bool = False) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls: ssl.SSLObject | None = None
        self._close_notify_sent = False
        if tls is not None:
            hostname = None if server_side else LOCALHOST
            self.tls = tls.wrap_bio(self._incoming, self._outgoing, server_side, hostname)

    @classmethod
    async def connect(cls, port: int, host: str = LOCALHOST, tls: ssl.SSLContext | None = None) -> RawPeer:
        """Connect a raw socket to ``host:port`` (and do the TLS handshake)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await within_timeout(asyncio.get_running_loop().sock_connect(sock, (host, port)))
        except BaseException:
            sock.close()
            raise
        peer = cls(sock, tls)
        await peer.handshake()
        return peer

    async def handshake(self) -> None:
        """Do the TLS handshake, if this peer speaks TLS."""
        if self.tls is None:
            return
        async with asyncio.timeout(STD_TIMEOUT):
            while True:
                try:
                    self.tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await self._flush()
                    await self._receive_encrypted()
            await self._flush()

    async def _flush(self) -> None:
        """Send what TLS has encrypted."""
        if data := self._outgoing.read():
            await self.loop.sock_sendall(self.sock, data)

    async def _receive_encrypted(self) -> None:
        """Receive some bytes for TLS to decrypt (EOF too)."""
        chunk = await self.loop.sock_recv(self.sock, 2**16)
        if chunk:
            self._incoming.write(chunk)
        else:
            self._incoming.write_eof()

    async def send(self, data: bytes, timeout: float = STD_TIMEOUT) -> None:
        """Send all of ``data``; fail after ``timeout`` s."""
        if self.tls is None:
            await within_timeout(self.loop.sock_sendall(self.sock, data), timeout)
            return
        async with asyncio.timeout(timeout):
            for start in range(0, len(data), TLS_SEND_CHUNK):
                self.tls.write(data[start : start + TLS_SEND_CHUNK])
                await self._flush()

    async def recv_some(self, n: int) -> bytes:
        """Receive up to ``n`` bytes; b"" at EOF (over TLS, a close_notify,
        which is answered, or the connection closing without one)."""
        if self.tls is None:
            return await self.loop.sock_recv(self.sock, n)
        while True:
            try:
                data = self.tls.read(n)
            except ssl.SSLWantReadError:
                await self._flush()
                await self._receive_encrypted()
                continue
            except ssl.SSLEOFError:
                return b""
            if not data:  # the other end's close_notify
                self._send_close_notify()
            return data

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
                chunk = await self.recv_some(min(n - received, 2**20))
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
                    chunk = await self.recv_some(2**16)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)

    def shutdown_write(self) -> None:
        """Half-close: send FIN, keep receiving (TCP only: TLS has no half-close)."""
        if self.tls is not None:
            raise ValueError("TLS has no half-close")
        self.sock.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        """Close with RST instead of FIN (SO_LINGER on with a zero timeout)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def shrink_receive_buffer(self, nbytes: int = 4096) -> None:
        """Make the kernel buffer little of what the other end sends us."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, nbytes)

    def close(self) -> None:
        """Close the connection (over TLS, with close_notify first)."""
        if self.sock.fileno() >= 0:
            self._send_close_notify()
        self.sock.close()

    def _send_close_notify(self) -> None:
        """Send TLS close_notify, as far as the socket takes it at once."""
        if self.tls is None or self._close_notify_sent:
            return
        self._close_notify_sent = True
        try:
            self.tls.unwrap()
        except ssl.SSLError:
            pass  # SSLWantReadError: the other end's close_notify is not here yet
        try:
            self.sock.send(self._outgoing.read())
        except OSError:
            pass  # its socket buffer is full, or it is gone: a close without it


class RawListener:
    """A raw listening socket on a free loopback port, for tcpframe clients.

    Parameters
    ----------
    tls : `ssl.SSLContext` or None, optional
        Accepted peers speak TLS with this (server) context.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.sock = socket.create_server((LOCALHOST, 0))
        self.sock.setblocking(False)
        self.host = LOCALHOST
        self.port: int = self.sock.getsockname()[1]
        self.tls = tls

    async def accept(self) -> RawPeer:
        """Accept the next connection as a `RawPeer` (after the TLS handshake)."""
        sock, _ = await within_timeout(asyncio.get_running_loop().sock_accept(self.sock))
        peer = RawPeer(sock, self.tls, server_side=True)
        try:
            await peer.handshake()
        except BaseException:
            peer.close()
            raise
        return peer

    def close(self) -> None:
        self.sock.close()
