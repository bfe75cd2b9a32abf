"""The one place that chooses between compiled kernels and their twins.

Each kernel family is a pair in this package: the compiled Cython module
``<family>_compiled`` (built from ``ext/<family>.pyx``; its ``.pyi``, and
its ``.pxd`` where other kernels cimport it, sit here) and its pure-Python
twin ``<family>_pure``, with the same names. The compiled modules are used
when they import; the twins when they do
not (tcpframe was installed with ``TCPFRAME_NO_EXTENSIONS=1``, or built
without a compiler), or when the environment variable
``TCPFRAME_PURE_PYTHON`` is set to anything other than empty or ``0``.

One family is compiled only: ``awaitables`` (`awaitables`), the compiled
awaitables of the clients' reads, which replace Python coroutines; the
twins' reads are the ``async def`` methods themselves, so it has no twin,
and `awaitables` is None unless the compiled kernels are active.

Code and tests that need a particular implementation ask this module for
it (`PURE`, `load_compiled`, `ACTIVE`) instead of importing
the ``*_compiled`` modules, so that nothing breaks where it is not built.
"""

__all__ = [
    "ACCELERATED",
    "ACTIVE",
    "COMPILED_ONLY_FAMILIES",
    "FAMILIES",
    "FORCE_PURE_PYTHON",
    "PURE",
    "Kernels",
    "awaitables",
    "checksums",
    "frames",
    "load_compiled",
    "push",
    "receive_buffer",
    "structs",
]

import os
import types
import typing

from ..framing import use_frame_encoder

FORCE_PURE_PYTHON = os.environ.get("TCPFRAME_PURE_PYTHON", "") not in ("", "0")

# The kernel families; each is a ``<family>_compiled`` and a ``<family>_pure`` module here.
FAMILIES = ("checksums", "frames", "receive_buffer", "structs", "push")
# The families built from ext/<family>.pyx with no twin: <family>_compiled only.
COMPILED_ONLY_FAMILIES = ("awaitables",)


class Kernels(typing.NamedTuple):
    """One implementation of the kernel families: compiled, or the twins.

    Attributes
    ----------
    name : `str`
        ``"compiled"`` or ``"pure"``.
    checksums, frames, receive_buffer, structs, push : `types.ModuleType`
        The implementation's module of each family (`FAMILIES`).
    """

    name: str
    checksums: types.ModuleType
    frames: types.ModuleType
    receive_buffer: types.ModuleType
    structs: types.ModuleType
    push: types.ModuleType


def load_compiled() -> Kernels:
    """Return the compiled kernels, whatever ``TCPFRAME_PURE_PYTHON`` says.

    Raises
    ------
    ImportError
        If the compiled kernels are not built or do not load.
    """
    from . import checksums_compiled as checksums
    from . import frames_compiled as frames
    from . import push_compiled as push
    from . import receive_buffer_compiled as receive_buffer
    from . import structs_compiled as structs

    return Kernels("compiled", checksums, frames, receive_buffer, structs, push)


def _load_pure() -> Kernels:
    from . import checksums_pure as checksums
    from . import frames_pure as frames
    from . import push_pure as push
    from . import receive_buffer_pure as receive_buffer
    from . import structs_pure as structs

    return Kernels("pure", checksums, frames, receive_buffer, structs, push)


PURE = _load_pure()

ACTIVE: Kernels
if FORCE_PURE_PYTHON:
    ACTIVE = PURE
else:
    try:
        ACTIVE = load_compiled()
    except ImportError:
        ACTIVE = PURE

ACCELERATED: bool = ACTIVE is not PURE

# The frame spec sits below the kernels and imports none of them; its
# ChecksumFrame.encode runs the active frame kernels' encoder.
use_frame_encoder(ACTIVE.frames.encode_checksummed)

if typing.TYPE_CHECKING:
    # Type checkers see the compiled modules' stubs; the twins have the
    # same API.
    from . import checksums_compiled as checksums
    from . import frames_compiled as frames
    from . import push_compiled as push
    from . import receive_buffer_compiled as receive_buffer
    from . import structs_compiled as structs
else:
    checksums = ACTIVE.checksums
    frames = ACTIVE.frames
    push = ACTIVE.push
    receive_buffer = ACTIVE.receive_buffer
    structs = ACTIVE.structs

# The compiled awaitables of the clients' reads, with the compiled kernels.
awaitables: types.ModuleType | None = None
if ACCELERATED:
    from . import awaitables_compiled

    awaitables = awaitables_compiled
