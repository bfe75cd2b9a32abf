"""Stream telemetry at a fixed rate, and watch its rate and latency.

`TelemetryProducer` is a one-client server that sends its client a
`TelemetryHeader` + `TelemetryPayload` pair of ctypes structs ``rate``
times a second, each stamped with the time it was sent.
`consume_telemetry` reads the pairs with a `~tcpframe.Client` and reports,
once a second, the rate received, the latency (receive time minus send
time) and how many samples were lost. It reads one ``await`` per struct,
or, with ``push=True`` (``--push``), has the client push each pair to a
callback as it is received (`~tcpframe.Client.push_structs`), with no
``await`` per sample.

Run both ends in one process::

    python -m tcpframe.examples.telemetry --rate 1000 --seconds 5

or in two: ``--mode producer --port 5000`` in one shell and
``--mode consumer --port 5000`` in another; add ``--push`` for the push
consumer. Latency compares the clocks
of the two ends, so across machines it is only as good as their clock
synchronisation.
"""

from __future__ import annotations

__all__ = [
    "TelemetryHeader",
    "TelemetryPayload",
    "TelemetryProducer",
    "TelemetrySample",
    "TelemetryStats",
    "consume_telemetry",
    "main",
]

import argparse
import asyncio
import ctypes
import itertools
import logging
import math
import time
import typing
from collections.abc import Callable, Coroutine

from ..constants import LOCAL_HOST
from ..tcpip.base_client_or_server import BaseClientOrServer, make_done_future
from ..tcpip.client import Client
from ..tcpip.one_client_server import OneClientServer


class TelemetryHeader(ctypes.Structure):
    """What every telemetry sample starts with."""

    _pack_ = 1
    _fields_ = [
        ("sequence", ctypes.c_uint64),  # 0, 1, 2, ... per connection
        ("timestamp", ctypes.c_double),  # send time, Unix seconds
        ("payload_size", ctypes.c_uint32),  # sizeof(TelemetryPayload)
    ]


class TelemetryPayload(ctypes.Structure):
    """The measurements of one telemetry sample."""

    _pack_ = 1
    _fields_ = [
        ("positions", ctypes.c_double * 6),  # simulated axis positions (deg)
        ("status", ctypes.c_uint32),
    ]


class TelemetrySample(ctypes.Structure):
    """A header and its payload, as they follow each other on the wire:
    what the push consumer is given, one per sample."""

    _pack_ = 1
    _fields_ = [("header", TelemetryHeader), ("payload", TelemetryPayload)]


class TelemetryProducer(OneClientServer):
    """Stream telemetry samples to one client at a time, at a fixed rate.

    Streaming starts when a client connects and stops when it leaves.
    Samples are sent on schedule (sample ``n`` at ``n / rate`` seconds
    after the connection), several per event-loop turn when the rate is
    high; a producer that falls behind catches up in a burst.

    Parameters
    ----------
    rate : `float`, optional
        Samples per second.
    port : `int`, optional
        Port to listen on; 0 picks a free port (read `port` once
        `start_task` is done).
    host : `str` or None, optional
        Address to listen on; None for all interfaces.
    log : `logging.Logger` or None, optional
        Logger; the module's logger if None.
    **kwargs
        Passed to `~tcpframe.OneClientServer`.

    Attributes
    ----------
    stream_task : `asyncio.Future`
        The task streaming to the current client; done when none is
        connected.

    Raises
    ------
    ValueError
        If ``rate`` is not a positive finite number.
    """

    def __init__(
        self,
        rate: float = 1000.0,
        port: int = 0,
        host: str | None = LOCAL_HOST,
        log: logging.Logger | None = None,
        **kwargs: typing.Any,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate={rate!r} must be a positive number of samples per second")
        self.rate = rate
        self.stream_task: asyncio.Future[typing.Any] = make_done_future()
        super().__init__(
            host=host,
            port=port,
            log=log if log is not None else logging.getLogger("tcpframe.examples.telemetry"),
            name="TelemetryProducer",
            connect_callback=self._start_or_stop_stream,
            **kwargs,
        )

    async def _start_or_stop_stream(self, server: BaseClientOrServer) -> None:
        # The stream itself may be what noticed the disconnection.
        if self.stream_task is not asyncio.current_task():
            self.stream_task.cancel()
        if self.connected:
            self.stream_task = asyncio.create_task(self.stream())

    async def stream(self) -> None:
        """Send samples on schedule until the client disconnects."""
        header = TelemetryHeader(payload_size=ctypes.sizeof(TelemetryPayload))
        payload = TelemetryPayload()
        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        try:
            while self.connected:
                due = int((loop.time() - start) * self.rate) + 1
                for sequence in range(sent, due):
                    header.sequence = sequence
                    header.timestamp = time.time()
                    angle = sequence / self.rate
                    for axis in range(6):
                        payload.positions[axis] = 10 * axis + math.sin(angle + axis)
                    await self.write_from(header, payload)
                sent = due
                await asyncio.sleep(start + sent / self.rate - loop.time())
        except ConnectionError:
            self.log.info("Consumer disconnected")


class TelemetryStats:
    """Counts of received samples, lost samples and latency.

    Keeps running totals and the figures of the current reporting
    interval; `interval_report` reports the interval and starts a new one.

    Parameters
    ----------
    now : `float`
        Start time (`time.monotonic` seconds).

    Attributes
    ----------
    count, lost : `int`
        Samples received and samples missing from the sequence, in total.
    next_sequence : `int`
        The sequence number expected next: one past the last received.
        ``count + lost == next_sequence`` while samples come in order.
    latency_sum, latency_max : `float`
        Sum and maximum of the latencies (s), in total.
    """

    def __init__(self, now: float) -> None:
        self.start = now
        self.count = 0
        self.lost = 0
        self.latency_sum = 0.0
        self.latency_max = 0.0
        self.next_sequence = 0
        self._start_interval(now)

    def _start_interval(self, now: float) -> None:
        self._interval_start = now
        self._interval_count = 0
        self._interval_lost = 0
        self._interval_latency_sum = 0.0
        self._interval_latency_max = 0.0

    def add(self, header: TelemetryHeader, received: float) -> None:
        """Count a sample received at ``received`` (Unix seconds)."""
        latency = received - header.timestamp
        if header.sequence > self.next_sequence:
            missing = header.sequence - self.next_sequence
            self.lost += missing
            self._interval_lost += missing
        self.next_sequence = header.sequence + 1
        self.count += 1
        self._interval_count += 1
        self.latency_sum += latency
        self._interval_latency_sum += latency
        self.latency_max = max(self.latency_max, latency)
        self._interval_latency_max = max(self._interval_latency_max, latency)

    def interval_report(self, now: float) -> str:
        """Return a line about the interval ending ``now``; start the next."""
        line = _report_line(
            now - self.start,
            self._interval_count,
            now - self._interval_start,
            self._interval_latency_sum,
            self._interval_latency_max,
            self._interval_lost,
        )
        self._start_interval(now)
        return line

    def summary(self, now: float) -> str:
        """Return a line about everything received until ``now``."""
        return "total " + _report_line(
            now - self.start, self.count, now - self.start, self.latency_sum, self.latency_max, self.lost
        )


def _report_line(
    elapsed: float, count: int, duration: float, latency_sum: float, latency_max: float, lost: int
) -> str:
    rate = count / duration if duration > 0 else 0.0
    mean = latency_sum / count if count else 0.0
    return (
        f"{elapsed:6.1f} s: {rate:9.1f} samples/s, latency mean {mean * 1e3:7.3f} ms "
        f"max {latency_max * 1e3:7.3f} ms, {lost} lost"
    )


async def consume_telemetry(
    host: str | None,
    port: int | None,
    seconds: float,
    report: Callable[[str], typing.Any] = print,
    log: logging.Logger | None = None,
    *,
    push: bool = False,
) -> TelemetryStats:
    """Read telemetry from a `TelemetryProducer`, reporting once a second.

    Parameters
    ----------
    host, port
        Address of the producer (as for `~tcpframe.Client`, e.g. the
        ``port`` of a `TelemetryProducer`).
    seconds : `float`
        How long to read; 0 to read until the producer closes.
    report : callable, optional
        Called with each report line: one a second, then a summary.
    log : `logging.Logger` or None, optional
        Logger of the client; the module's logger if None.
    push : `bool`, optional
        Have the client push each sample to a callback as it is received
        (`~tcpframe.Client.push_structs` of a `TelemetrySample`) instead
        of reading it with one ``await`` per struct. The callback is given
        the same struct, refilled, for every sample: it takes what it
        needs (`TelemetryStats.add` reads two fields) before returning.

    Returns
    -------
    stats : `TelemetryStats`
        What was received.

    Raises
    ------
    asyncio.IncompleteReadError
        With ``push``, if the producer closed the connection in the middle
        of a sample (the await consumer also stops there, silently).
    """
    log = log if log is not None else logging.getLogger("tcpframe.examples.telemetry")
    payload = TelemetryPayload()
    stats = TelemetryStats(time.monotonic())

    async def report_every_second() -> None:
        for second in itertools.count(1):
            await asyncio.sleep(stats.start + second - time.monotonic())
            report(stats.interval_report(time.monotonic()))

    async with Client(host=host, port=port, log=log, name="TelemetryConsumer") as client:
        reporter = asyncio.create_task(report_every_second())
        try:
            if push:
                await _push_samples(client, stats, seconds)
            else:
                try:
                    async with asyncio.timeout(seconds if seconds > 0 else None):
                        async for header in client.iter_structs(TelemetryHeader()):
                            await client.read_into(payload)
                            stats.add(header, time.time())
                except TimeoutError:
                    pass
        finally:
            reporter.cancel()
    report(stats.summary(time.monotonic()))
    return stats


async def _push_samples(client: Client, stats: TelemetryStats, seconds: float) -> None:
    """Count every sample the client pushes, for ``seconds`` (0: until the
    producer closes the connection)."""

    def on_sample(sample: TelemetrySample) -> None:
        # Called from the event loop with each sample as it is received.
        stats.add(sample.header, time.time())

    pushed = client.push_structs(TelemetrySample, on_sample)
    try:
        # done ends the push at the end of the connection (raising if a
        # sample was cut, or if on_sample raised); shield it from the
        # timeout, which stops the push instead.
        await asyncio.wait_for(asyncio.shield(pushed.done), seconds if seconds > 0 else None)
    except TimeoutError:
        pushed.stop()
        await pushed.done


def positive_float(text: str) -> float:
    """Parse a positive finite number for `argparse`."""
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{text} is not a positive number")
    return value


def main(args: list[str] | None = None) -> None:
    """Run a telemetry producer, consumer or both from the command line.

    Parameters
    ----------
    args : `list` [`str`] or None, optional
        Command-line arguments; `sys.argv` if None.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tcpframe.examples.telemetry",
        description="Stream header+payload telemetry structs at a fixed rate; report rate and latency.",
    )
    parser.add_argument(
        "--mode",
        choices=["both", "producer", "consumer"],
        default="both",
        help="run both ends in this process (the default), or one of them",
    )
    parser.add_argument("--rate", type=positive_float, default=1000.0, help="samples per second (default 1000)")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="how long the consumer reads (default 5; 0 until the producer stops)"
    )
    parser.add_argument(
        "--push",
        action="store_true",
        help="consumer: have the client push each sample to a callback (push_structs) instead of awaiting each read",
    )
    parser.add_argument("--host", default=LOCAL_HOST, help=f"producer address (default {LOCAL_HOST})")
    parser.add_argument("--port", type=int, default=0, help="producer port (default 0: a free one)")
    parsed = parser.parse_args(args)
    if parsed.mode == "consumer" and parsed.port == 0:
        parser.error("--mode consumer needs the producer's --port")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    async def run_producer() -> None:
        async with TelemetryProducer(rate=parsed.rate, port=parsed.port, host=parsed.host) as producer:
            print(f"Telemetry producer on port {producer.port} at {parsed.rate:g} samples/s", flush=True)
            await producer.done_task

    async def run_both() -> None:
        async with TelemetryProducer(rate=parsed.rate, port=parsed.port, host=parsed.host) as producer:
            await consume_telemetry(parsed.host, producer.port, parsed.seconds, report=print_flush, push=parsed.push)

    runs: dict[str, Callable[[], Coroutine[typing.Any, typing.Any, typing.Any]]] = {
        "both": run_both,
        "producer": run_producer,
        "consumer": lambda: consume_telemetry(
            parsed.host, parsed.port, parsed.seconds, report=print_flush, push=parsed.push
        ),
    }
    try:
        asyncio.run(runs[parsed.mode]())
    except KeyboardInterrupt:
        pass
    except OSError as e:  # e.g. the port is in use, or nobody listens on it
        parser.exit(1, f"Telemetry {parsed.mode} failed on {parsed.host}:{parsed.port}: {e}\n")


def print_flush(line: str) -> None:
    """Print ``line`` at once, also when output is a pipe."""
    print(line, flush=True)


if __name__ == "__main__":
    main()
