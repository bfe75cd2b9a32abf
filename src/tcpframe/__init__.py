"""tcpframe: Cython-accelerated asyncio TCP framing, a drop-in lsst.ts.tcpip.

Use it in place of lsst.ts.tcpip with ``import tcpframe as tcpip``.
"""

__all__ = [
    "ACCELERATED",
    "DEFAULT_ENCODING",
    "DEFAULT_LENGTH_PREFIX",
    "DEFAULT_LOCALHOST",
    "DEFAULT_MAX_HEARTBEAT_INTERVAL",
    "DEFAULT_MONITOR_CONNECTION_INTERVAL",
    "DEFAULT_TERMINATOR",
    "HEARTBEAT",
    "KEEPALIVE_INTERVAL",
    "KEEPALIVE_PROBES",
    "KEEPALIVE_TIME",
    "LOCALHOST_IPV4",
    "LOCALHOST_IPV6",
    "LOCAL_HOST",
    "NMEA",
    "TERMINATOR",
    "BaseClientOrServer",
    "BaseOneClientServerTestCase",
    "ChecksumFrame",
    "ChecksumMismatchError",
    "Client",
    "ConnectCallbackType",
    "Direction",
    "FrameError",
    "FrameProtocol",
    "FrameReader",
    "FrameWriter",
    "JsonCodec",
    "LengthPrefix",
    "OneClientReadLoopServer",
    "OneClientServer",
    "OrjsonCodec",
    "Recorder",
    "RecordingError",
    "RecordingReader",
    "RecordingWriter",
    "ReplayMismatchError",
    "ReplayServer",
    "StdlibJsonCodec",
    "TestOneClientReadLoopServer",
    "__version__",
    "base_one_client_server_test_case",
    "checksums",
    "close_stream_writer",
    "get_default_json_codec",
    "open_connection",
    "read_into",
    "set_default_json_codec",
    "set_socket_options",
    "start_server",
    "testone_client_read_loop_server",
    "utils",
    "write_from",
]

# The one definition of the version (pyproject.toml reads it from here).
__version__ = "0.1.0"

# lsst.ts.tcpip's module names for the test helpers, and the checksums.
from . import base_one_client_server_test_case, checksums, testone_client_read_loop_server, utils
from ._kernels import ACCELERATED
from .constants import (
    DEFAULT_ENCODING,
    DEFAULT_LOCALHOST,
    DEFAULT_MAX_HEARTBEAT_INTERVAL,
    DEFAULT_MONITOR_CONNECTION_INTERVAL,
    DEFAULT_TERMINATOR,
    HEARTBEAT,
    KEEPALIVE_INTERVAL,
    KEEPALIVE_PROBES,
    KEEPALIVE_TIME,
    LOCAL_HOST,
    LOCALHOST_IPV4,
    LOCALHOST_IPV6,
    TERMINATOR,
)
from .errors import ChecksumMismatchError, FrameError
from .framing import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from .json_codecs import JsonCodec, OrjsonCodec, StdlibJsonCodec, get_default_json_codec, set_default_json_codec
from .recording.format import Direction, RecordingError, RecordingReader, RecordingWriter
from .recording.recorder import Recorder
from .recording.replay_server import ReplayMismatchError, ReplayServer
from .stream.protocol import FrameProtocol, open_connection, start_server
from .stream.reader import FrameReader
from .stream.writer import FrameWriter
from .tcpip.base_client_or_server import BaseClientOrServer, ConnectCallbackType
from .tcpip.client import Client
from .tcpip.one_client_read_loop_server import OneClientReadLoopServer
from .tcpip.one_client_server import OneClientServer
from .tcpip.testing import BaseOneClientServerTestCase, TestOneClientReadLoopServer
from .tcpip.utils import close_stream_writer, read_into, set_socket_options, write_from
