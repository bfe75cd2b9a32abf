"""The public constructors and test helpers have lsst.ts.tcpip 2.2's
signatures: parameter names, kinds, order and defaults (plus, on the base
class, keyword-only additions, ``json_codec`` and ``busy_poll_us``).

tcpframe is a drop-in replacement (``import tcpframe as tcpip``), so code
that passes these arguments by position or by name, or that inspects the
signatures, must run unchanged. lsst.ts.tcpip's signatures are written here
as data (read from its v2.2.0 tag), so this test needs no lsst import.
"""

import inspect
import typing

import pytest

import tcpframe

POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
KEYWORD = inspect.Parameter.KEYWORD_ONLY
VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD
NO_DEFAULT = inspect.Parameter.empty

# (name, kind, default) of each parameter after ``self``, in order.
Signature = list[tuple[str, inspect._ParameterKind, typing.Any]]

READ_LOOP_SERVER: Signature = [
    ("port", KEYWORD, NO_DEFAULT),
    ("host", KEYWORD, "127.0.0.1"),
    ("log", KEYWORD, NO_DEFAULT),
    ("connect_callback", KEYWORD, None),
    ("name", KEYWORD, ""),
    ("encoding", KEYWORD, "utf-8"),
    ("terminator", KEYWORD, b"\r\n"),
    ("run_heartbeat_monitor_task", KEYWORD, False),
    ("max_heartbeat_interval", KEYWORD, 10.0),
    ("kwargs", VAR_KEYWORD, NO_DEFAULT),
]

LSST_2_2_SIGNATURES: dict[str, tuple[typing.Callable[..., typing.Any], Signature]] = {
    "BaseClientOrServer": (
        tcpframe.BaseClientOrServer.__init__,
        [
            ("log", KEYWORD, NO_DEFAULT),
            ("connect_callback", KEYWORD, None),
            ("monitor_connection_interval", KEYWORD, 0.1),
            ("name", KEYWORD, ""),
            ("do_start", KEYWORD, True),
            ("encoding", KEYWORD, "utf-8"),
            ("terminator", KEYWORD, b"\r\n"),
            # tcpframe's additions: keyword-only, so lsst's calls are unchanged.
            ("json_codec", KEYWORD, None),
            ("busy_poll_us", KEYWORD, 0.0),
            ("kwargs", VAR_KEYWORD, NO_DEFAULT),
        ],
    ),
    "Client": (
        tcpframe.Client,
        [
            ("host", POSITIONAL, NO_DEFAULT),
            ("port", POSITIONAL, NO_DEFAULT),
            ("log", POSITIONAL, NO_DEFAULT),
            ("connect_callback", POSITIONAL, None),
            ("monitor_connection_interval", POSITIONAL, 0.1),
            ("name", POSITIONAL, ""),
            ("encoding", POSITIONAL, "utf-8"),
            ("terminator", POSITIONAL, b"\r\n"),
            ("run_heartbeat_send_task", POSITIONAL, False),
            ("heartbeat_send_sleep", POSITIONAL, 1.0),
            ("kwargs", VAR_KEYWORD, NO_DEFAULT),
        ],
    ),
    "OneClientServer": (
        tcpframe.OneClientServer,
        [
            ("host", POSITIONAL, NO_DEFAULT),
            ("port", POSITIONAL, NO_DEFAULT),
            ("log", POSITIONAL, NO_DEFAULT),
            ("connect_callback", POSITIONAL, None),
            ("monitor_connection_interval", POSITIONAL, 0.1),
            ("name", POSITIONAL, ""),
            ("encoding", POSITIONAL, "utf-8"),
            ("terminator", POSITIONAL, b"\r\n"),
            ("kwargs", VAR_KEYWORD, NO_DEFAULT),
        ],
    ),
    "OneClientReadLoopServer": (tcpframe.OneClientReadLoopServer, READ_LOOP_SERVER),
    "TestOneClientReadLoopServer": (tcpframe.TestOneClientReadLoopServer, READ_LOOP_SERVER),
    "BaseOneClientServerTestCase.create_server": (
        tcpframe.BaseOneClientServerTestCase.create_server,
        [("kwargs", VAR_KEYWORD, NO_DEFAULT)],
    ),
    "BaseOneClientServerTestCase.create_client": (
        tcpframe.BaseOneClientServerTestCase.create_client,
        [
            ("server", POSITIONAL, NO_DEFAULT),
            ("wait_connected", KEYWORD, True),
            ("kwargs", VAR_KEYWORD, NO_DEFAULT),
        ],
    ),
    "BaseOneClientServerTestCase.connect_callback": (
        tcpframe.BaseOneClientServerTestCase.connect_callback,
        [("server", POSITIONAL, NO_DEFAULT)],
    ),
    "BaseOneClientServerTestCase.assert_next_connected": (
        tcpframe.BaseOneClientServerTestCase.assert_next_connected,
        [("connected", POSITIONAL, NO_DEFAULT), ("timeout", POSITIONAL, 2)],
    ),
}


def parameters(function: typing.Callable[..., typing.Any]) -> Signature:
    """``function``'s parameters as (name, kind, default), without ``self``."""
    found = [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
    return found[1:] if found and found[0][0] == "self" else found


@pytest.mark.parametrize("name", list(LSST_2_2_SIGNATURES))
def test_the_signature_is_lsst_ts_tcpip_2_2s(name: str) -> None:
    function, expected = LSST_2_2_SIGNATURES[name]
    found = parameters(function)
    assert found == expected
    # Equal is not enough for defaults: True == 1 and 0.1 == 0.1 of another type.
    assert [type(default) for _, _, default in found] == [type(default) for _, _, default in expected]
