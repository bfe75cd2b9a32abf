"""The one place that chooses between compiled kernels and their twins.

The compiled Cython modules in ``tcpframe._compiled`` are used when they
import. The pure-Python twins in ``tcpframe._pure`` are used when they do
not, or when the environment variable ``TCPFRAME_PURE_PYTHON`` is set to
anything other than empty or ``0``.
"""

__all__ = ["ACCELERATED", "checksums", "frames", "receive_buffer", "structs"]

import os
import typing

FORCE_PURE_PYTHON = os.environ.get("TCPFRAME_PURE_PYTHON", "") not in ("", "0")

ACCELERATED: bool
if typing.TYPE_CHECKING:
    # Type checkers see the compiled modules' stubs; the twins have the
    # same API.
    from ._compiled import checksums, frames, receive_buffer, structs
elif FORCE_PURE_PYTHON:
    from ._pure import checksums, frames, receive_buffer, structs

    ACCELERATED = False
else:
    try:
        from ._compiled import checksums, frames, receive_buffer, structs

        ACCELERATED = True
    except ImportError:
        from ._pure import checksums, frames, receive_buffer, structs

        ACCELERATED = False
