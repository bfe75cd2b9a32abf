"""lsst.ts.tcpip's module name for `TestOneClientReadLoopServer`, kept so
that code importing it by that path runs unchanged; defined in
`tcpframe.tcpip.testing`."""

__all__ = ["TestOneClientReadLoopServer"]

from .tcpip.testing import TestOneClientReadLoopServer
