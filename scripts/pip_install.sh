# Sourced by scripts/setup_venv.sh and scripts/check_package.sh:
#
#   pip_install PYTHON ARGS...    run `PYTHON -m pip install --quiet ARGS...`
#
# passing on what pip writes to stderr except one message. Where the user's
# pip configuration lists local index or find-links folders that lack a
# project, pip warns "Location '...' is ignored: it is neither a file nor a
# directory" for each project it looks up. That is about the machine's
# configuration, not about tcpframe, and ignoring the configuration
# (pip --isolated) would also drop the user's proxies and indexes; every
# other warning and error is kept.
pip_install() {
    local python=$1 log status=0
    shift
    log=$(mktemp "${TMPDIR:-/tmp}/tcpframe-pip.XXXXXX")
    "$python" -m pip install --quiet "$@" 2>"$log" || status=$?
    grep -v "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$" "$log" >&2 || true
    rm -f "$log"
    return "$status"
}
