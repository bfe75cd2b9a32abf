"""The kernel spec (``kernel_spec/``) run on the pure-Python twins.

It runs in every run of the suite, whichever kernels are active and
whether or not the compiled kernels are built.
"""

from kernel_spec import KernelSpec
from tcpframe import _kernels


class TestTwinKernels(KernelSpec):
    kernels = _kernels.PURE
