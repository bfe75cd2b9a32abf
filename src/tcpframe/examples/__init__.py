"""Complete systems built on tcpframe, as run by real users of lsst.ts.tcpip.

* `SocketServer`: a one-client JSON command server that hands commands to
  a pluggable `AbstractCommandHandler` (e.g. `MockCommandHandler`, which
  streams simulated sensor telemetry) and monitors heartbeats.
* `ChillerClient`: a client for a chiller that frames commands as
  ``.{device_id}{cmd}{checksum}\\r``, with `MockChiller` to test it against.
* `EchoServer`: echoes lines; ``python -m tcpframe.examples.echo`` runs it.
* `TelemetryProducer`: streams `TelemetryHeader` + `TelemetryPayload`
  struct pairs at a fixed rate; `consume_telemetry` reads them (or has
  them pushed, as `TelemetrySample` structs) and reports rate and
  latency. ``python -m tcpframe.examples.telemetry`` runs both.
"""

from __future__ import annotations

import importlib
import typing

# Each name is written twice, the fewest that both readers allow: in the
# table, which Python reads, and in the imports, which only type checkers
# read. Python imports a name's module on first use of the name, so that
# ``python -m tcpframe.examples.echo`` does not find its own module
# already imported by this package (which runpy warns about). Type
# checkers do not run ``__getattr__``; they see the imports, whose
# ``name as name`` form exports each name (mypy --strict cannot read an
# ``__all__`` computed from the table).
_MODULE_OF_NAME = {
    "AbstractCommandHandler": "command_handler",
    "ChecksumError": "chiller",
    "ChillerClient": "chiller",
    "EchoServer": "echo",
    "MockChiller": "mock_chiller",
    "MockCommandHandler": "mock_command_handler",
    "ResponseCode": "command_handler",
    "SocketServer": "socket_server",
    "TelemetryHeader": "telemetry",
    "TelemetryPayload": "telemetry",
    "TelemetryProducer": "telemetry",
    "TelemetrySample": "telemetry",
    "TelemetryStats": "telemetry",
    "consume_telemetry": "telemetry",
}

__all__ = list(_MODULE_OF_NAME)

if typing.TYPE_CHECKING:
    from .chiller import ChecksumError as ChecksumError
    from .chiller import ChillerClient as ChillerClient
    from .command_handler import AbstractCommandHandler as AbstractCommandHandler
    from .command_handler import ResponseCode as ResponseCode
    from .echo import EchoServer as EchoServer
    from .mock_chiller import MockChiller as MockChiller
    from .mock_command_handler import MockCommandHandler as MockCommandHandler
    from .socket_server import SocketServer as SocketServer
    from .telemetry import TelemetryHeader as TelemetryHeader
    from .telemetry import TelemetryPayload as TelemetryPayload
    from .telemetry import TelemetryProducer as TelemetryProducer
    from .telemetry import TelemetrySample as TelemetrySample
    from .telemetry import TelemetryStats as TelemetryStats
    from .telemetry import consume_telemetry as consume_telemetry


def __getattr__(name: str) -> typing.Any:
    module_name = _MODULE_OF_NAME.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
