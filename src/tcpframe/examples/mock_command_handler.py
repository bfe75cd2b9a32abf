"""A command handler that streams simulated temperature sensor telemetry."""

from __future__ import annotations

__all__ = ["MockCommandHandler"]

import asyncio
import logging
import math
import random
import time
import typing

from .command_handler import AbstractCommandHandler, CommandMethod, ReplyCallback

# The simulated temperatures drift around this value (deg C) ...
MEAN_TEMPERATURE = 20.0
# ... by up to this much, with this period (s), plus a little noise.
DRIFT_AMPLITUDE = 2.0
DRIFT_PERIOD = 600.0
NOISE = 0.05

# Bounds of the ``start`` command's parameters.
MIN_INTERVAL = 0.001
MAX_SENSORS = 100


class MockCommandHandler(AbstractCommandHandler):
    """Simulate a bank of temperature sensors.

    Commands:

    * ``start(interval=1.0, num_sensors=1)``: every ``interval`` seconds
      send one telemetry message per sensor, until ``stop`` or until the
      client disconnects. Each message is::

        {"telemetry": {"name": "sensor1", "timestamp": <unix time>,
                       "sequence": <tick number>, "temperature": <deg C>}}

      `ResponseCode.BAD_PARAMETERS` if ``interval`` < 0.001 s or
      ``num_sensors`` is not in 1..100; `ResponseCode.COMMAND_FAILED` if
      telemetry is already being sent.
    * ``stop()``: stop sending telemetry (a no-op if none is sent).

    Parameters
    ----------
    callback : coroutine function
        Sends one JSON-able dict to the client.
    simulation_mode : `int`, optional
        Accepted for the interface; this handler always simulates.
    log : `logging.Logger` or None, optional
        Logger; this handler logs to a child of it.
    """

    def __init__(
        self, callback: ReplyCallback, simulation_mode: int = 0, log: logging.Logger | None = None
    ) -> None:
        self._random = random.Random(0)
        super().__init__(callback=callback, simulation_mode=simulation_mode, log=log)

    def make_dispatch_dict(self) -> dict[str, CommandMethod]:
        """Return the commands: ``start`` and ``stop``."""
        return {"start": self.start, "stop": self.stop}

    async def start(self, interval: float = 1.0, num_sensors: int = 1) -> None:
        """Start sending telemetry.

        Parameters
        ----------
        interval : `float`, optional
            Time between telemetry ticks (s).
        num_sensors : `int`, optional
            Number of simulated sensors, each with one message per tick.

        Raises
        ------
        ValueError
            If a parameter is out of range.
        RuntimeError
            If telemetry is already being sent.
        """
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval >= MIN_INTERVAL:
            raise ValueError(f"interval={interval!r} must be a number >= {MIN_INTERVAL}")
        if isinstance(num_sensors, bool) or not isinstance(num_sensors, int) or not 1 <= num_sensors <= MAX_SENSORS:
            raise ValueError(f"num_sensors={num_sensors!r} must be an integer in 1..{MAX_SENSORS}")
        self.start_telemetry_task(self.send_telemetry(float(interval), num_sensors))

    async def stop(self) -> None:
        """Stop sending telemetry."""
        await self.stop_sending_telemetry()

    async def send_telemetry(self, interval: float, num_sensors: int) -> None:
        """Send telemetry every ``interval`` s until cancelled or disconnected.

        Ticks are scheduled on a fixed grid, so the rate does not drift
        with the time each tick takes.
        """
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        sequence = 0
        try:
            while True:
                next_tick += interval
                delay = next_tick - loop.time()
                if delay < -interval:
                    # Far behind (a slow client): restart the grid, do not burst.
                    next_tick = loop.time()
                await asyncio.sleep(max(delay, 0))
                for sensor in range(num_sensors):
                    await self.callback(self.make_telemetry(sensor, sequence))
                sequence += 1
        except ConnectionError:
            self.log.info("Stopped sending telemetry: the client is gone")

    def make_telemetry(self, sensor: int, sequence: int) -> dict[str, typing.Any]:
        """Return one telemetry message of simulated sensor ``sensor``.

        Parameters
        ----------
        sensor : `int`
            Index of the sensor, from 0; its name is ``f"sensor{sensor + 1}"``.
        sequence : `int`
            Tick number, from 0.
        """
        now = time.time()
        drift = DRIFT_AMPLITUDE * math.sin(2 * math.pi * now / DRIFT_PERIOD + sensor)
        temperature = MEAN_TEMPERATURE + drift + self._random.gauss(0, NOISE)
        return {
            "telemetry": {
                "name": f"sensor{sensor + 1}",
                "timestamp": now,
                "sequence": sequence,
                "temperature": round(temperature, 3),
            }
        }
