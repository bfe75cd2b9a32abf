"""The package's floors: public import paths, no import circle, numpy on demand.

The layers are folders (``_kernels``, ``stream``, ``tcpip``, ``recording``)
over a few modules that import nothing above them (``errors``,
``framing``, ``constants``, ``json_codecs``, ``checksums``). Users reach
everything through the paths they had before the package had floors.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tcpframe

PACKAGE = Path(tcpframe.__file__).parent


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter and return what it printed."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules among ``modules`` that ``path`` imports, anywhere in it
    (also under ``if TYPE_CHECKING:`` and inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from package import module`` imports the module; ``from
            # module import name`` the module.
            submodules = [f"{target}.{alias.name}" for alias in node.names]
            candidates = [m for m in submodules if m in modules] or [target]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in modules and c != name)
    return found


def module_graph() -> dict[str, set[str]]:
    """Each module of the package (the examples aside) and the package
    modules it imports."""
    paths = [p for p in PACKAGE.rglob("*.py") if "examples" not in p.relative_to(PACKAGE).parts]
    names = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, names) for p in paths}


def test_no_module_of_the_package_imports_itself_back_even_for_type_checkers() -> None:
    graph = module_graph()
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = "visiting"
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "visiting":
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_import_tcpframe_does_not_import_numpy() -> None:
    assert run_python("import sys, tcpframe; print('numpy' in sys.modules)").strip() == "False"


def test_a_batch_read_of_a_numpy_dtype_imports_numpy_when_first_used() -> None:
    code = "import sys, tcpframe; r = tcpframe.stream.records.new_records('<i4', 3); print(type(r).__module__)"
    assert run_python(code).strip() == "numpy"


@pytest.mark.parametrize(
    "path",
    [
        "tcpframe.utils",
        "tcpframe.json_codecs",
        "tcpframe.checksums",
        "tcpframe.constants",
        "tcpframe.recording",
        "tcpframe.base_one_client_server_test_case",
        "tcpframe.testone_client_read_loop_server",
        "tcpframe.examples",
    ],
)
def test_documented_module_paths_import(path: str) -> None:
    # tcpframe.utils is the module tcpframe.tcpip.utils itself.
    expected = {path, f"tcpframe.tcpip.{path.rpartition('.')[2]}"}
    assert run_python(f"import {path} as m; print(m.__name__)").strip() in expected


def test_tcpframe_utils_is_the_module_its_constants_are_read_from() -> None:
    import tcpframe.tcpip.utils
    import tcpframe.utils

    assert tcpframe.utils is tcpframe.tcpip.utils


def test_the_recording_path_keeps_the_file_format_names() -> None:
    import tcpframe.recording

    for name in ["RecordingReader", "RecordingWriter", "RecordingError", "Direction", "Record", "RecordingHeader"]:
        assert getattr(tcpframe.recording, name) is getattr(tcpframe.recording.format, name)


@pytest.mark.parametrize("command", ["tcpframe.record", "tcpframe.replay"])
def test_the_command_lines_run_by_their_documented_module_names(command: str) -> None:
    done = subprocess.run([sys.executable, "-m", command, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


def test_every_public_name_is_importable_from_the_top() -> None:
    for name in tcpframe.__all__:
        assert getattr(tcpframe, name) is not None
