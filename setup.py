"""Build the tcpframe Cython kernels (``ext/<family>.pyx``) into ``tcpframe._kernels.<family>_compiled``.

All Cython compiler directives and C build flags live here, in one place.
The shipped extension modules carry no debug information: they are built
with ``-g0`` and, on Linux, linked with ``-s``. ``setup.py build_ext
--debug`` keeps the compiler's debug flags instead (scripts/asan.sh).

``TCPFRAME_NO_EXTENSIONS=1`` installs tcpframe with no extension modules
at all (no compiler needed): only the pure-Python twins, which
``tcpframe._kernels`` then picks.
"""

import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["receive_buffer", "structs", "checksums", "frames", "push", "awaitables"]

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "embedsignature": True,
    # The kernels' objects wrap raw memory and live inside one connection;
    # pickling them means nothing, so Cython adds no pickle methods.
    "auto_pickle": False,
}

NO_DEBUG_COMPILE_ARGS = ["-g0"]
NO_DEBUG_LINK_ARGS = ["-s"] if sys.platform.startswith("linux") else []

NO_EXTENSIONS = os.environ.get("TCPFRAME_NO_EXTENSIONS", "") not in ("", "0")


class build_kernels(build_ext):
    """`build_ext` that builds without debug information unless ``--debug``."""

    def build_extension(self, ext: Extension) -> None:
        if not self.debug:
            ext.extra_compile_args = [*ext.extra_compile_args, *NO_DEBUG_COMPILE_ARGS]
            ext.extra_link_args = [*ext.extra_link_args, *NO_DEBUG_LINK_ARGS]
        super().build_extension(ext)


def extension_modules() -> list[Extension]:
    """Return the cythonized kernels."""
    from Cython.Build import cythonize

    extensions = [
        Extension(
            f"tcpframe._kernels.{name}_compiled",
            [str(Path("ext") / f"{name}.pyx")],
            extra_compile_args=["-O3"],
            define_macros=[("_GNU_SOURCE", "1")],
        )
        for name in KERNELS
    ]
    # A .pxd that other kernels cimport lives in the package
    # (src/tcpframe/_kernels/<family>_compiled.pxd), where Cython looks
    # them up by the modules' dotted names. The byte rules every kernel
    # cimports (ext/byte_rules.pxd, inline functions only, no module) are
    # found in ext.
    return cythonize(extensions, compiler_directives=DIRECTIVES, include_path=["src", "ext"])


# The kernels compile in parallel, one per core.
setup(
    ext_modules=[] if NO_EXTENSIONS else extension_modules(),
    cmdclass={"build_ext": build_kernels},
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
)
