"""tcpframe: Cython-accelerated asyncio TCP framing, a drop-in lsst.ts.tcpip."""

from ._kernels import ACCELERATED
from . import checksums
