"""Build the tcpframe Cython kernels (``ext/*.pyx``) into ``tcpframe._compiled``.

All Cython compiler directives live here, in one place.
"""

from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

KERNELS = ["receive_buffer", "structs", "checksums", "frames"]

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "embedsignature": True,
}

extensions = [
    Extension(
        f"tcpframe._compiled.{name}",
        [str(Path("ext") / f"{name}.pyx")],
        extra_compile_args=["-O3"],
        define_macros=[("_GNU_SOURCE", "1")],
    )
    for name in KERNELS
]

# The .pxd files live in the package (src/tcpframe/_compiled/), where
# Cython looks them up by the modules' dotted names.
setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, include_path=["src"]))
