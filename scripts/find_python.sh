#!/usr/bin/env bash
# Print the path of a working CPython X.Y interpreter (e.g. `find_python.sh
# 3.12`), or nothing and exit 1. Looks on PATH first (python3.12), then
# among pyenv's installed versions (the newest 3.12.*), whose shims refuse
# to run a version that is not selected.
set -uo pipefail
want="$1"

works() {
    [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]
}

candidate=$(command -v "python$want" 2>/dev/null) && works "$candidate" && { echo "$candidate"; exit 0; }
if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E "^${want//./\\.}\.[0-9]+$" | sort -t. -k3,3nr); do
        candidate="$(pyenv prefix "$version" 2>/dev/null)/bin/python"
        works "$candidate" && { echo "$candidate"; exit 0; }
    done
fi
exit 1
