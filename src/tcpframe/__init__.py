"""tcpframe: Cython-accelerated asyncio TCP framing, a drop-in lsst.ts.tcpip.

Use it in place of lsst.ts.tcpip with ``import tcpframe as tcpip``.
"""

from . import checksums
from ._kernels import ACCELERATED
from .base_client_or_server import BaseClientOrServer, ConnectCallbackType
from .client import Client
from .constants import *  # noqa: F403 (the lsst.ts.tcpip constants)
from .errors import ChecksumMismatchError, FrameError
from .frames import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from .one_client_read_loop_server import OneClientReadLoopServer
from .one_client_server import OneClientServer
from .protocol import FrameProtocol, open_connection, start_server
from .reader import FrameReader
from .recorder import Recorder
from .recording import Direction, RecordingError, RecordingReader, RecordingWriter
from .replay_server import ReplayMismatchError, ReplayServer
from .testing import BaseOneClientServerTestCase, TestOneClientReadLoopServer
from . import base_one_client_server_test_case, testone_client_read_loop_server  # lsst.ts.tcpip's module names
from .utils import close_stream_writer, read_into, set_socket_options, write_from
from .writer import FrameWriter
