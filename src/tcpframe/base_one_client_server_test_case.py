"""lsst.ts.tcpip's module name for `BaseOneClientServerTestCase`, kept so
that code importing it by that path runs unchanged; defined in
`tcpframe.tcpip.testing`."""

__all__ = ["STD_TIMEOUT", "BaseOneClientServerTestCase"]

from .tcpip.testing import STD_TIMEOUT, BaseOneClientServerTestCase
