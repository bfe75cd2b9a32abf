"""Seed-system servers started for tests, shared by several test modules."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import tcpframe
from tcpframe.examples import MockCommandHandler, SocketServer

# Longest wait for a server to start listening (s).
START_TIMEOUT = 5


@contextlib.asynccontextmanager
async def socket_server(log: logging.Logger) -> AsyncIterator[SocketServer]:
    """A listening simulation-mode `SocketServer` with a `MockCommandHandler`
    on a free localhost port; closed on exit."""
    server = SocketServer(name="ess", host=tcpframe.LOCALHOST_IPV4, port=0, log=log, simulation_mode=1)
    server.set_command_handler(MockCommandHandler(callback=server.write_json, simulation_mode=1))
    try:
        await asyncio.wait_for(server.start_task, START_TIMEOUT)
        yield server
    finally:
        await server.close()
