"""Pure-Python twins of the compiled kernels: same names, same results."""
