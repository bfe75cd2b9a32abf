"""Compiled Cython kernels (built from ``ext/``)."""
