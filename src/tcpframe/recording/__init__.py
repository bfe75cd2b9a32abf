"""Record and replay TCP sessions.

The file format (``format``): `RecordingWriter`, `RecordingReader` and
their records; the `Recorder` (``recorder``), a client or a proxy that
writes one; the `ReplayServer` (``replay_server``), which serves one back;
and their command lines (``record``, ``replay``: ``python -m
tcpframe.record`` and ``python -m tcpframe.replay``).

The names of the file format are importable from here
(``tcpframe.recording.RecordingReader``, ...).
"""

from .format import *  # noqa: F403
from .format import __all__  # noqa: F401
