"""The kernel spec: what every implementation of the kernel families does.

As uvloop writes its TCP tests once, as a mixin, and runs them on two
event loops, `KernelSpec` is written once and run on each implementation
of the kernels (``receive_buffer``, ``structs``, ``checksums``,
``frames``, ``push``): against reference models, for fixed inputs, random inputs
and random chunkings of a stream.

* ``tests/test_kernels_twin.py`` runs it on the pure-Python twins, in
  every run of the suite.
* ``tests/test_kernels_compiled.py`` runs it on the compiled kernels and
  compares them with the twins (names, signatures, docstrings, results and
  errors for the same random operations). It is collected only where
  `tcpframe._kernels.load_compiled` succeeds; ``conftest.py`` says so when
  it is not.

A subclass sets `KernelSpec.kernels` to a `tcpframe._kernels.Kernels`.
One module per family (the receive buffer's in two parts, with its
reference model beside them):

========================== ==================================================
``streams``                streams, chunkings, separators, Hypothesis settings
``receive_buffer_model``   the receive buffer's reference model and state machine
``receive_buffer_reads``   feed, peek, skip, take*, find, copy_into
``receive_buffer_memory``  get_buffer, buffer_updated, the memory rule
``structs``                join_structs, append_structs, writable_*
``checksums``              the checksums and their references
``frames``                 length-prefixed and checksummed frames
``push``                   the push kernels: each complete message to a callback
========================== ==================================================

The strategies and reference models are shared with the comparisons.
"""

from tcpframe._kernels import Kernels

from .checksums import CHECKSUMS, CRC16S, CRCS, REFERENCES, ChecksumSpec
from .frames import FrameSpec, encode_safely, framings, length_prefixes
from .push import PushSpec
from .receive_buffer_memory import ReceiveBufferMemorySpec
from .receive_buffer_reads import ReceiveBufferReadSpec
from .streams import SEPARATORS, TOKENS
from .structs import StructSpec

__all__ = [
    "CHECKSUMS",
    "CRC16S",
    "CRCS",
    "REFERENCES",
    "SEPARATORS",
    "TOKENS",
    "KernelSpec",
    "encode_safely",
    "framings",
    "length_prefixes",
]


class KernelSpec(ReceiveBufferReadSpec, ReceiveBufferMemorySpec, StructSpec, ChecksumSpec, FrameSpec, PushSpec):
    """What every implementation of the kernels must do; a subclass sets
    `kernels` (and pytest collects it as ``Test...``)."""

    kernels: Kernels
