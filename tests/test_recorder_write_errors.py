"""A recorder whose file cannot be written fails loudly: ``done_task``
fails with the `OSError`, the recorded connections are reset (never ended
as if the server had closed), and ``python -m tcpframe.record`` prints one
line and exits 1. Full disks are ``/dev/full`` (ENOSPC) and a file-size
limit (``RLIMIT_FSIZE``, EFBIG) in a subprocess."""

import asyncio
import contextlib
import errno
import json
import os
import pathlib
import resource
import signal
import sys
from collections.abc import AsyncIterator

import pytest

import tcpframe
from conftest import STD_TIMEOUT

# A subprocess starts (imports tcpframe, numpy) in well under this.
START_TIMEOUT = 20
HOST = tcpframe.LOCALHOST_IPV4
DEV_FULL = pathlib.Path("/dev/full")
# The file-size limit of a subprocess: more than the recorder's write buffer.
FILE_SIZE_LIMIT = 2 * 2**20
CHUNK = bytes(range(256)) * 256

needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full on this system")


class FloodServer:
    """Send `CHUNK` after `CHUNK` to each client until the connection fails;
    ``outcome`` is how the first connection ended: the exception, or None for EOF."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def serve(self, reader: tcpframe.FrameReader, writer: tcpframe.FrameWriter) -> None:
        try:
            sent = 0
            while self.limit is None or sent < self.limit:
                writer.write(CHUNK)
                sent += len(CHUNK)
                await writer.drain()
            # Sent all it had: close once the client has.
            await reader.read()
        except ConnectionError as e:
            if not self.outcome.done():
                self.outcome.set_result(e)
        else:
            if not self.outcome.done():
                self.outcome.set_result(None)
        finally:
            await tcpframe.close_stream_writer(writer)


@contextlib.asynccontextmanager
async def flood_server(limit: int | None = None) -> AsyncIterator[tuple[FloodServer, int]]:
    """A `FloodServer` listening on 127.0.0.1, and its port."""
    flood = FloodServer(limit)
    server = await tcpframe.start_server(flood.serve, HOST, 0)
    try:
        yield flood, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def read_until_the_end(reader: asyncio.StreamReader) -> BaseException | None:
    """Read to the end of the connection; return the error it ended with, or None for EOF."""
    try:
        while await reader.read(2**16):
            pass
    except ConnectionError as e:
        return e
    return None


# ---------------------------------------------------------------------------
# The library: /dev/full in this process.
# ---------------------------------------------------------------------------


@needs_dev_full
@pytest.mark.all_event_loops
async def test_a_full_disk_fails_a_client_recording_and_resets_its_connection() -> None:
    async with flood_server() as (flood, port):
        recorder = tcpframe.Recorder(DEV_FULL, HOST, port)
        await recorder.start()
        with pytest.raises(OSError) as excinfo:
            await asyncio.wait_for(recorder.done_task, STD_TIMEOUT)
        assert excinfo.value.errno == errno.ENOSPC
        # The server saw its connection reset, not closed.
        assert isinstance(await asyncio.wait_for(flood.outcome, STD_TIMEOUT), ConnectionError)
        await recorder.close()  # never raises: done_task has the error


@needs_dev_full
@pytest.mark.all_event_loops
async def test_a_full_disk_fails_a_proxy_recording_and_resets_both_connections() -> None:
    async with flood_server() as (flood, port):
        # The with statement raises the error at exit.
        with pytest.raises(OSError) as at_exit:
            async with tcpframe.Recorder(DEV_FULL, HOST, port, listen_port=0) as recorder:
                reader, writer = await asyncio.open_connection(HOST, recorder.port)
                try:
                    # The client sees its connection reset, not an EOF as if the server had closed.
                    ended = await asyncio.wait_for(read_until_the_end(reader), STD_TIMEOUT)
                    assert isinstance(ended, ConnectionResetError), ended
                finally:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
                assert isinstance(await asyncio.wait_for(flood.outcome, STD_TIMEOUT), ConnectionError)
                await asyncio.wait({recorder.done_task}, timeout=STD_TIMEOUT)
                await recorder.close()  # never raises: done_task has the error
        assert at_exit.value.errno == errno.ENOSPC
        assert recorder.done_task.exception() is at_exit.value


@needs_dev_full
@pytest.mark.all_event_loops
@pytest.mark.parametrize("proxy", [False, True], ids=["client", "proxy"])
async def test_a_failed_final_write_fails_the_recording(proxy: bool) -> None:
    """The server sends less than the write buffer: the only write to the
    disk is the last one, when the recording ends (the proxied client
    closes; the recording client is closed)."""
    async with flood_server(limit=len(CHUNK)) as (_, port):
        recorder = tcpframe.Recorder(DEV_FULL, HOST, port, listen_port=0 if proxy else None)
        await recorder.start()
        try:
            if proxy:
                reader, writer = await asyncio.open_connection(HOST, recorder.port)
                assert len(await asyncio.wait_for(reader.readexactly(len(CHUNK)), STD_TIMEOUT)) == len(CHUNK)
                writer.close()  # the session ends
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            else:
                async with asyncio.timeout(STD_TIMEOUT):
                    while recorder.traffic[tcpframe.Direction.SERVER_TO_CLIENT].nbytes < len(CHUNK):
                        await asyncio.sleep(0.01)
                assert not recorder.done_task.done()
                await recorder.close()  # the session ends; never raises
            with pytest.raises(OSError) as excinfo:
                await asyncio.wait_for(recorder.done_task, STD_TIMEOUT)
            assert excinfo.value.errno == errno.ENOSPC
        finally:
            await recorder.close()


@needs_dev_full
@pytest.mark.all_event_loops
async def test_async_with_raises_the_failure_of_the_final_write() -> None:
    async with flood_server(limit=len(CHUNK)) as (_, port):
        with pytest.raises(OSError) as excinfo:
            async with tcpframe.Recorder(DEV_FULL, HOST, port) as recorder:
                async with asyncio.timeout(STD_TIMEOUT):
                    while recorder.traffic[tcpframe.Direction.SERVER_TO_CLIENT].nbytes < len(CHUNK):
                        await asyncio.sleep(0.01)
        assert excinfo.value.errno == errno.ENOSPC
        assert recorder.done_task.done()


# ---------------------------------------------------------------------------
# Subprocesses: the library under a file-size limit, and the command line.
# ---------------------------------------------------------------------------


def limit_file_size() -> None:
    """In the child before exec: files end at FILE_SIZE_LIMIT, and writing
    past it fails with EFBIG instead of killing the process (SIGXFSZ)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@contextlib.asynccontextmanager
async def child(*args: str, rlimit: bool) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``python *args``, under the file-size limit if ``rlimit``; kill it at exit if it still runs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),  # PYTHONPATH and TCPFRAME_PURE_PYTHON pass through
        preexec_fn=limit_file_size if rlimit else None,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.communicate(), STD_TIMEOUT)


# Records as a client of the server at port argv[1] to the file argv[2], on
# the event loop argv[3]; prints how done_task ended, once close() has
# returned.
LIBRARY_CLIENT = """
import asyncio, json, sys
import tcpframe

async def main():
    recorder = tcpframe.Recorder(sys.argv[2], "127.0.0.1", int(sys.argv[1]))
    await recorder.start()
    try:
        await asyncio.wait_for(recorder.done_task, 5)
        outcome = None
    except OSError as e:
        outcome = e.errno
    await recorder.close()
    print(json.dumps({"errno": outcome, "closed": True}))

if sys.argv[3] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


@pytest.mark.all_event_loops
async def test_a_file_size_limit_fails_a_library_client_recording(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "limited.rec"
    # The child runs on the loop this test runs on.
    loop = "asyncio" if type(asyncio.get_running_loop()).__module__.startswith("asyncio") else "uvloop"
    async with flood_server() as (flood, port):
        async with child("-c", LIBRARY_CLIENT, str(port), str(path), loop, rlimit=True) as process:
            stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
        assert process.returncode == 0, stderr
        assert json.loads(stdout) == {"errno": errno.EFBIG, "closed": True}
        assert isinstance(await asyncio.wait_for(flood.outcome, STD_TIMEOUT), ConnectionError)
    assert path.stat().st_size <= FILE_SIZE_LIMIT


DISKS = {
    "dev-full": (DEV_FULL, False, "[Errno 28] No space left on device"),
    "rlimit": (None, True, "[Errno 27] File too large"),
}


@pytest.mark.parametrize("disk", list(DISKS))
@pytest.mark.parametrize("proxy", [False, True], ids=["connect", "listen"])
async def test_the_record_tool_reports_a_full_disk_in_one_line(tmp_path: pathlib.Path, disk: str, proxy: bool) -> None:
    path, rlimit, error = DISKS[disk]
    if path is None:
        path = tmp_path / "limited.rec"
    elif not path.exists():
        pytest.skip(f"no {path} on this system")
    async with flood_server() as (flood, port):
        mode = ["--listen", "0", "--to", f"{HOST}:{port}"] if proxy else ["--connect", f"{HOST}:{port}"]
        args = ["-m", "tcpframe.record", *mode, "--out", str(path), "--progress", "0.1"]
        async with child(*args, rlimit=rlimit) as process:
            assert process.stdout is not None
            first = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
            if proxy:
                port = int(first.split(b"proxy on 127.0.0.1:")[1].split()[0])
                reader, writer = await asyncio.open_connection(HOST, port)
                try:
                    ended = await asyncio.wait_for(read_until_the_end(reader), START_TIMEOUT)
                    assert isinstance(ended, ConnectionResetError), ended
                finally:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
            # It stops by itself: no Ctrl-C.
            stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
        assert isinstance(await asyncio.wait_for(flood.outcome, STD_TIMEOUT), ConnectionError)
    assert process.returncode == 1
    assert stderr.decode() == f"Recording failed: {error}\n"
    assert "Recording complete" not in stdout.decode()
    if rlimit:
        assert path.stat().st_size <= FILE_SIZE_LIMIT
