"""Test configuration shared by the whole suite.

The suite runs twice: once with the compiled kernels and once with
``TCPFRAME_PURE_PYTHON=1``. A compiled run whose extensions did not load
must fail, not quietly test the twins. Tests learn which kernels exist from
`tcpframe._kernels`, never by importing ``tcpframe._compiled``: where
tcpframe is installed without them (``scripts/test_pure_only.sh``), the
modules that need them are not collected, and the run says so.
"""

import asyncio
import logging
import socket
import tempfile
import typing
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

import tcpframe
from tcpframe import _kernels
from transports import TlsCertificates, Transport

try:
    import uvloop
except ImportError:  # uvloop is optional
    uvloop = None


# Test modules that need the compiled kernels: the compiled half of the
# kernel spec and its parity with the twins, and the benchmark runner (it
# measures tcpframe compiled against tcpframe pure).
NEEDS_COMPILED_KERNELS = ["test_kernels_compiled.py", "test_benchmark_runner.py"]


def _compiled_kernels_missing() -> str | None:
    """Why the compiled kernels are not available, or None if they are."""
    try:
        _kernels.load_compiled()
    except ImportError as error:
        return f"{type(error).__name__}: {error}"
    return None


COMPILED_KERNELS_MISSING = _compiled_kernels_missing()
collect_ignore = NEEDS_COMPILED_KERNELS if COMPILED_KERNELS_MISSING else []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "all_event_loops: run this async test on every available event loop "
        "(asyncio, and uvloop when it is installed)",
    )
    if not _kernels.FORCE_PURE_PYTHON and not tcpframe.ACCELERATED:
        raise pytest.UsageError(
            f"tcpframe's compiled kernels did not load ({COMPILED_KERNELS_MISSING}); "
            "build them with `pip install .` or run with TCPFRAME_PURE_PYTHON=1"
        )


def _not_collected() -> str:
    return (
        f"compiled kernels not built ({COMPILED_KERNELS_MISSING}): not collected, as not applicable: "
        f"{', '.join(NEEDS_COMPILED_KERNELS)} (the kernel spec runs on the twins alone)"
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    mode = "compiled" if tcpframe.ACCELERATED else "pure-Python twins"
    lines = [f"tcpframe kernels: {mode}"]
    if COMPILED_KERNELS_MISSING:
        lines.append(_not_collected())
    return lines


def pytest_terminal_summary(terminalreporter: typing.Any) -> None:
    if COMPILED_KERNELS_MISSING:
        terminalreporter.write_line(_not_collected(), yellow=True)


# ---------------------------------------------------------------------------
# Connection-test support: event loops, loopback hosts, stream pairs, and
# client/server pairs. Everything a fixture opens is closed at teardown, so
# the suite runs under ``-W error::ResourceWarning``.
# ---------------------------------------------------------------------------

# Longest a test waits for anything on a loopback connection (s).
STD_TIMEOUT = 5


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6_AVAILABLE = _ipv6_loopback_available()


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable]:
    """Run tests marked ``all_event_loops`` on asyncio's loop and on uvloop.

    pytest-asyncio 1.x deprecates overriding the ``event_loop_policy``
    fixture (it emits a PytestDeprecationWarning); this hook is its
    replacement. It must return a mapping for every async test, so
    unmarked tests get asyncio's loop alone (with an unchanged test id).
    """
    factories: dict[str, Callable] = {"asyncio": asyncio.new_event_loop}
    if uvloop is not None and item.get_closest_marker("all_event_loops") is not None:
        factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture(params=["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
def localhost(request: pytest.FixtureRequest) -> str:
    """The IPv4 and the IPv6 loopback address (IPv6 skipped if unavailable)."""
    if request.param == "::1" and not IPV6_AVAILABLE:
        pytest.skip("IPv6 loopback (::1) is not available on this machine")
    return request.param


@pytest.fixture(scope="session")
def tls_certificates() -> TlsCertificates:
    """A certificate authority and a server certificate, made once per run."""
    return TlsCertificates()


@pytest.fixture(params=["tcp", "tls", "unix"])
def transport(request: pytest.FixtureRequest, tls_certificates: TlsCertificates) -> typing.Iterator[Transport]:
    """Each stream transport in turn: TCP, TLS and a Unix socket (see tests/transports.py)."""
    # Not tmp_path: a Unix socket's path must be short (108 bytes on Linux).
    with tempfile.TemporaryDirectory(prefix="tcpframe-") as folder:
        yield Transport(request.param, tls_certificates, Path(folder))


@pytest.fixture(params=["tcp", "tls"])
def peer_transport(request: pytest.FixtureRequest, tls_certificates: TlsCertificates) -> Transport:
    """TCP, then TLS: the transports a raw-socket peer (tests/raw_peer.py)
    drives. A test that applies to TCP only says so with
    ``@pytest.mark.parametrize("peer_transport", ["tcp"], indirect=True)``."""
    return Transport(request.param, tls_certificates)


@pytest.fixture
def log() -> logging.Logger:
    return logging.getLogger("tcpframe.tests")


class StreamPair(typing.NamedTuple):
    """Both ends of one loopback connection made with a stream API."""

    client_reader: typing.Any
    client_writer: typing.Any
    server_reader: typing.Any
    server_writer: typing.Any


STREAM_APIS = {
    "asyncio": (asyncio.open_connection, asyncio.start_server),
    "tcpframe": (tcpframe.open_connection, tcpframe.start_server),
}


@pytest.fixture(params=sorted(STREAM_APIS))
def stream_api(request: pytest.FixtureRequest) -> str:
    """Name of a stream API: "asyncio" (the reference) or "tcpframe"."""
    return request.param


@pytest.fixture
async def open_stream_pair() -> AsyncIterator[Callable[..., typing.Awaitable[StreamPair]]]:
    """Return ``await open_stream_pair(api, host=..., limit=..., client_api=...)``.

    It starts a server with the API's ``start_server`` on a free port,
    connects to it with the ``open_connection`` of ``client_api`` (default:
    the same API) and returns both ends as a `StreamPair`. Every writer and
    server is closed at teardown.
    """
    servers: list[asyncio.Server] = []
    writers: list[typing.Any] = []

    async def open_pair(
        api: str = "tcpframe", host: str = "127.0.0.1", limit: int = 2**16, client_api: str | None = None
    ) -> StreamPair:
        _, start_server = STREAM_APIS[api]
        open_connection, _ = STREAM_APIS[client_api or api]
        server_end: asyncio.Future = asyncio.get_running_loop().create_future()

        def client_connected(reader: typing.Any, writer: typing.Any) -> None:
            writers.append(writer)
            if not server_end.done():
                server_end.set_result((reader, writer))

        server = await start_server(client_connected, host, 0, limit=limit)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.wait_for(open_connection(host, port, limit=limit), STD_TIMEOUT)
        writers.append(writer)
        server_reader, server_writer = await asyncio.wait_for(server_end, STD_TIMEOUT)
        return StreamPair(reader, writer, server_reader, server_writer)

    yield open_pair

    for writer in writers:
        try:
            await asyncio.wait_for(tcpframe.close_stream_writer(writer), STD_TIMEOUT)
        except OSError:
            pass  # e.g. a reset connection, which some tests make on purpose
    for server in servers:
        server.close()
        await server.wait_closed()


class ConnectRecorder:
    """Records ``connected`` at each call of its `callback` method.

    Pass ``recorder.callback`` as ``connect_callback`` (an object with an
    async ``__call__`` is not a coroutine function, and is rejected).
    """

    def __init__(self, fail: bool = False) -> None:
        self.states: list[bool] = []
        self.queue: asyncio.Queue[bool] = asyncio.Queue()
        self.fail = fail

    async def callback(self, client_or_server: tcpframe.BaseClientOrServer) -> None:
        self.states.append(client_or_server.connected)
        self.queue.put_nowait(client_or_server.connected)
        if self.fail:
            raise RuntimeError("connect_callback failed on purpose")

    async def next(self, timeout: float = STD_TIMEOUT) -> bool:
        """Return the ``connected`` state seen by the next call."""
        return await asyncio.wait_for(self.queue.get(), timeout)


@pytest.fixture
def make_recorder() -> type[ConnectRecorder]:
    """The `ConnectRecorder` class: a recording connect_callback."""
    return ConnectRecorder


@pytest.fixture
async def connect_pair(log: logging.Logger) -> AsyncIterator[Callable[..., typing.Awaitable[tuple]]]:
    """Return ``await connect_pair(host=..., server_class=..., server_kwargs=..., client_kwargs=..., transport=...)``.

    It starts a server (a `tcpframe.OneClientServer` by default) on a free
    port of ``host``, or on a new address of ``transport`` (a `Transport`,
    e.g. the ``transport`` fixture), connects a `tcpframe.Client`, waits
    until the server sees it, and returns ``(server, client)``. Both are
    closed at teardown.
    """
    opened: list[tcpframe.BaseClientOrServer] = []

    async def connect(
        host: str = "127.0.0.1",
        server_class: type = tcpframe.OneClientServer,
        server_kwargs: dict | None = None,
        client_kwargs: dict | None = None,
        transport: Transport | None = None,
    ) -> tuple:
        transport = transport or Transport("tcp")
        server = server_class(log=log, **transport.server_kwargs(host), **(server_kwargs or {}))
        opened.append(server)
        await asyncio.wait_for(server.start_task, STD_TIMEOUT)
        client = tcpframe.Client(log=log, **transport.client_kwargs(server), **(client_kwargs or {}))
        opened.append(client)
        await asyncio.wait_for(client.start_task, STD_TIMEOUT)
        await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
        return server, client

    yield connect

    for client_or_server in reversed(opened):
        await asyncio.wait_for(client_or_server.close(), STD_TIMEOUT)


async def wait_until(predicate: Callable[[], bool], timeout: float = STD_TIMEOUT) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


@pytest.fixture
def until() -> Callable[..., typing.Awaitable[None]]:
    """The `wait_until` coroutine function: poll a predicate with a timeout."""
    return wait_until
