#!/usr/bin/env bash
# Rebuild the compiled kernels with AddressSanitizer in a temporary copy of
# this checkout and run the kernel tests (and, with --fuzz-seconds N, the
# kernel fuzz targets) against them. The checkout's own build is untouched.
#
#   bash scripts/asan.sh                       # kernel tests under ASan
#   bash scripts/asan.sh --fuzz-seconds 300    # ... then 300 s of fuzzing
#   bash scripts/asan.sh -- -k take_until      # extra arguments for pytest
#
# Needs gcc with libasan, the test dependencies (pip install '.[test]') and,
# as it runs setup.py itself, the build requirements (setuptools>=77, Cython>=3).
# PYTHONMALLOC=malloc routes Python's small allocations (the receive
# buffer's storage among them) through malloc, where ASan puts red zones
# around them; leak detection is off because CPython keeps memory until exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON:-python3}

fuzz_seconds=0
pytest_args=()
while (($#)); do
    case $1 in
        --fuzz-seconds) fuzz_seconds=$2; shift 2 ;;
        --) shift; pytest_args=("$@"); break ;;
        *) echo "usage: $0 [--fuzz-seconds N] [-- pytest arguments]" >&2; exit 2 ;;
    esac
done

libasan=$(gcc -print-file-name=libasan.so)
if [[ ! -e $libasan ]]; then
    echo "gcc has no libasan.so; install it (Debian: apt-get install libasan8) or use valgrind" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tcpframe-asan.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r setup.py pyproject.toml ext src tests tools "$work"/
find "$work" \( -name '*.so' -o -name '__pycache__' -o -name '.hypothesis' \) -prune -exec rm -rf {} +
find "$work/ext" -name '*.c' -delete

echo "=== building the kernels with AddressSanitizer in $work"
(
    cd "$work"
    CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g -O1" \
    LDFLAGS="-fsanitize=address" \
        "$python" setup.py build_ext --inplace --debug >build.log 2>&1 || { cat build.log; exit 1; }
)
for so in "$work"/src/tcpframe/_kernels/*_compiled.*.so; do
    if ! nm -D "$so" | grep -q __asan_; then
        echo "$so is not instrumented" >&2
        exit 1
    fi
done

export LD_PRELOAD=$libasan
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:check_initialization_order=1
export PYTHONMALLOC=malloc
export PYTHONPATH=$work/src
export TCPFRAME_PURE_PYTHON=0
cd "$work"
"$python" -c "import tcpframe, sys; sys.exit(0 if tcpframe.ACCELERATED else 'the instrumented kernels did not load')"

echo "=== kernel tests under AddressSanitizer"
# test_kernels_compiled.py runs the whole kernel spec (tests/kernel_spec/) on the compiled kernels.
kernel_tests=(tests/test_kernels_compiled.py tests/test_structs.py
              tests/test_checksums.py tests/test_frames.py tests/test_reader_matches_stream_reader.py)
# --capture=sys: ASan reports on fd 2, which pytest must not swallow.
"$python" -m pytest -q -p no:cacheprovider --capture=sys "${kernel_tests[@]}" "${pytest_args[@]}"

if [[ $fuzz_seconds != 0 ]]; then
    echo "=== fuzzing the kernels under AddressSanitizer for $fuzz_seconds s"
    "$python" -m tools.fuzz_kernels --seconds "$fuzz_seconds"
fi
echo "=== AddressSanitizer found no errors (checkout: $repo)"
