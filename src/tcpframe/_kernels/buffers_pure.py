"""Buffer rules shared by the pure-Python twins.

The compiled kernels take every buffer through CPython's buffer API; these
helpers give the twins the same answers where `memoryview` differs.
"""

__all__ = ["is_c_contiguous"]


def is_c_contiguous(view: memoryview) -> bool:
    """Return whether ``view`` is C-contiguous, as ``PyBuffer_IsContiguous``
    (which the compiled kernels use) decides.

    An empty buffer is contiguous whatever its strides; for e.g.
    ``memoryview(b"")[::2]`` `memoryview.c_contiguous` says otherwise.
    """
    return view.c_contiguous or view.nbytes == 0
