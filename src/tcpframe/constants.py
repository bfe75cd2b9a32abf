"""Constants shared by tcpframe's clients and servers (as in lsst.ts.tcpip)."""

__all__ = [
    "DEFAULT_ENCODING",
    "DEFAULT_LOCALHOST",
    "DEFAULT_MAX_HEARTBEAT_INTERVAL",
    "DEFAULT_MONITOR_CONNECTION_INTERVAL",
    "DEFAULT_TERMINATOR",
    "HEARTBEAT",
    "KEEPALIVE_INTERVAL",
    "KEEPALIVE_PROBES",
    "KEEPALIVE_TIME",
    "LOCALHOST_IPV4",
    "LOCALHOST_IPV6",
    "LOCAL_HOST",
    "TERMINATOR",
]

DEFAULT_ENCODING = "utf-8"
DEFAULT_TERMINATOR = b"\r\n"
TERMINATOR = DEFAULT_TERMINATOR

DEFAULT_MONITOR_CONNECTION_INTERVAL = 0.1
DEFAULT_MAX_HEARTBEAT_INTERVAL = 10.0
HEARTBEAT = b"heartbeat"
# A heartbeat line as read_str returns it. HEARTBEAT is ASCII bytes, so
# servers compare text: decoding HEARTBEAT with e.g. utf-16 would fail
# (odd length) or give garbage.
HEARTBEAT_TEXT = HEARTBEAT.decode("ascii")

LOCALHOST_IPV4 = "127.0.0.1"
LOCALHOST_IPV6 = "::1"
DEFAULT_LOCALHOST = LOCALHOST_IPV4
LOCAL_HOST = LOCALHOST_IPV4

# TCP keepalive: idle time before the first probe (s), number of
# unanswered probes before the connection is dropped, and the interval
# between probes (s).
KEEPALIVE_TIME = 60
KEEPALIVE_PROBES = 4
KEEPALIVE_INTERVAL = 15
