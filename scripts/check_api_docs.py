"""Check that a Sphinx build documents every public name of tcpframe.

Usage: ``python scripts/check_api_docs.py BUILD_DIR`` after
``sphinx-build -b html docs BUILD_DIR``, in an environment where tcpframe
is installed. Every name in the ``__all__`` of `tcpframe`,
`tcpframe.checksums` and `tcpframe.examples` must have an entry in the
build's ``objects.inv``; exits 1 and names those that do not.
"""

import importlib
import re
import sys
import zlib
from pathlib import Path

PUBLIC_MODULES = ["tcpframe", "tcpframe.checksums", "tcpframe.examples"]


def documented_names(build_dir: Path) -> set[str]:
    """Return the full names of the Python objects in ``objects.inv``.

    The file (Sphinx inventory version 2) is four header lines, then
    zlib-compressed lines ``name domain:role priority uri display-name``.
    """
    with open(build_dir / "objects.inv", "rb") as stream:
        for _ in range(4):
            stream.readline()
        entries = zlib.decompress(stream.read()).decode("utf-8")
    return set(re.findall(r"^(\S+) py:\S+ -?\d+ ", entries, flags=re.MULTILINE))


def main(build_dir: Path) -> int:
    documented = documented_names(build_dir)
    missing = [
        f"{module_name}.{name}"
        for module_name in PUBLIC_MODULES
        for name in importlib.import_module(module_name).__all__
        if f"{module_name}.{name}" not in documented
    ]
    if missing:
        print("public names missing from the API reference:", *missing, sep="\n  ")
        return 1
    count = sum(len(importlib.import_module(module_name).__all__) for module_name in PUBLIC_MODULES)
    print(f"the API reference documents all {count} public names of {', '.join(PUBLIC_MODULES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
