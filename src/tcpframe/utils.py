"""``tcpframe.utils``, lsst.ts.tcpip's module path of its module functions.

The module is `tcpframe.tcpip.utils`; importing this path gives that very
module, so that setting one of its constants here (e.g.
``tcpframe.utils.CLOSE_STALL_TIMEOUT``) changes it for tcpframe.
"""

import sys

from .tcpip import utils as _utils
from .tcpip.utils import *  # noqa: F403 (the names, for type checkers)
from .tcpip.utils import __all__  # noqa: F401

sys.modules[__name__] = _utils
