"""The stream transports the suite runs over: TCP, TLS and Unix sockets.

A test that takes the ``transport`` fixture (tests/conftest.py) runs once
per transport; it builds its servers with ``**transport.server_kwargs()``
and its clients with ``**transport.client_kwargs(server)``, and is
otherwise written once. ``peer_transport`` gives TCP and TLS only, for
tests whose peer is a raw socket (tests/raw_peer.py) that speaks TLS
through `TlsCertificates.context`.

TLS uses a certificate authority and a server certificate (for
``localhost``, 127.0.0.1 and ::1) that `trustme` makes for the session;
clients trust that authority and check the server's name, as production
clients do.
"""

from __future__ import annotations

import socket
import ssl
import typing
from pathlib import Path

import trustme

from tcpframe.stream.reader import RECEIVE_CHUNK_SIZE

LOCALHOST = "127.0.0.1"

# The most bytes one receive adds to a tcpframe reader's buffer: its
# chunk size from a socket (uvloop asks for less), up to what asyncio's
# TLS layer decrypts at once (it stops reading from the socket once
# 256 KiB are waiting to be decrypted). What a reader holds stays within
# its high-water mark plus this.
MOST_ONE_RECEIVE = {"tcp": RECEIVE_CHUNK_SIZE, "unix": RECEIVE_CHUNK_SIZE, "tls": max(RECEIVE_CHUNK_SIZE, 2**19)}


class TlsCertificates:
    """A test certificate authority and a server certificate it signed."""

    def __init__(self) -> None:
        self.authority = trustme.CA()
        self.server_certificate = self.authority.issue_cert("localhost", "127.0.0.1", "::1")
        self._server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_certificate.configure_cert(self._server_context)
        # As ssl.create_default_context() makes, but trusting only the test
        # authority (loading the system's authorities takes ~20 ms).
        self._client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.authority.configure_trust(self._client_context)

    def context(self, server_side: bool) -> ssl.SSLContext:
        """Return the context of a server, with the certificate, or of a
        client, trusting the authority and checking the server's name."""
        return self._server_context if server_side else self._client_context


class Transport:
    """How a test's servers listen and its clients connect.

    Parameters
    ----------
    name : `str`
        ``"tcp"``, ``"tls"`` or ``"unix"``.
    certificates : `TlsCertificates`, optional
        Needed for ``"tls"`` only.
    folder : `pathlib.Path`, optional
        Where ``"unix"`` puts its socket files (needed for it only).
    """

    def __init__(self, name: str, certificates: TlsCertificates | None = None, folder: Path | None = None) -> None:
        self.name = name
        self.certificates = certificates
        self.folder = folder
        self._sockets = 0

    def __repr__(self) -> str:
        return f"Transport({self.name!r})"

    @property
    def tls(self) -> bool:
        return self.name == "tls"

    @property
    def most_one_receive(self) -> int:
        """`MOST_ONE_RECEIVE` for this transport."""
        return MOST_ONE_RECEIVE[self.name]

    def server_kwargs(self, host: str = LOCALHOST) -> dict[str, typing.Any]:
        """Keyword arguments that make a tcpframe server (or
        `tcpframe.start_server`) listen on a new address of this transport."""
        if self.name == "unix":
            assert self.folder is not None, "a Unix transport needs a folder"
            self._sockets += 1
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(self.folder / f"server{self._sockets}.sock"))
            listener.listen()
            return {"host": None, "port": None, "sock": listener}
        kwargs: dict[str, typing.Any] = {"host": host, "port": 0}
        if self.tls:
            kwargs["ssl"] = self._tls_context(server_side=True)
        return kwargs

    def client_kwargs(self, server: typing.Any) -> dict[str, typing.Any]:
        """Keyword arguments that connect a `tcpframe.Client` (or
        `tcpframe.open_connection`) to ``server``.

        ``server`` is a tcpframe server or an `asyncio.Server` made with
        `server_kwargs`, or (TCP and TLS) anything with ``port`` and
        ``host`` attributes, such as a `raw_peer.RawListener`.
        """
        if self.name == "unix":
            listening = getattr(server, "_server", server).sockets[0]
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(listening.getsockname())
            return {"host": None, "port": None, "sock": sock}
        if hasattr(server, "port"):
            host, port = server.host, server.port
        else:  # an asyncio (or uvloop) Server
            host, port = server.sockets[0].getsockname()[:2]
        kwargs: dict[str, typing.Any] = {"host": host, "port": port}
        if self.tls:
            kwargs["ssl"] = self._tls_context(server_side=False)
        return kwargs

    def peer_context(self, server_side: bool) -> ssl.SSLContext | None:
        """The TLS context for a raw peer (None over plain TCP)."""
        if self.name == "unix":
            raise ValueError("raw peers speak TCP or TLS")
        return self._tls_context(server_side) if self.tls else None

    def _tls_context(self, server_side: bool) -> ssl.SSLContext:
        assert self.certificates is not None, "a TLS transport needs certificates"
        return self.certificates.context(server_side)
