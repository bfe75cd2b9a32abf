"""JSON codecs of read_json and write_json: the stdlib default and orjson.

Every exchange runs between a real `tcpframe.Client` and a server over
loopback (the ``connect_pair`` fixture), on asyncio's loop and on uvloop;
what the docstring of `tcpframe.json_codecs` says orjson does differently
is checked here, on the wire, case by case.
"""

import asyncio
import codecs
import collections
import dataclasses
import datetime
import decimal
import enum
import json
import math
import sys
import typing
import uuid
from collections.abc import Iterator

import orjson
import pytest

import tcpframe
from conftest import STD_TIMEOUT
from tcpframe.json_codecs import UTF8_NAMES
from transports import Transport

pytestmark = pytest.mark.all_event_loops

CODEC_NAMES = ["json", "orjson"]
CODEC_CLASSES = {"json": tcpframe.StdlibJsonCodec, "orjson": tcpframe.OrjsonCodec}


async def within_timeout(awaitable: typing.Awaitable) -> typing.Any:
    return await asyncio.wait_for(awaitable, STD_TIMEOUT)


@pytest.fixture(autouse=True)
def restore_default_json_codec() -> Iterator[None]:
    """Each test leaves the global default codec as it found it."""
    default = tcpframe.get_default_json_codec()
    yield
    tcpframe.set_default_json_codec(default)


async def next_line(receiver: tcpframe.BaseClientOrServer) -> bytes:
    """The next line's bytes, terminator removed."""
    line = await within_timeout(receiver.readuntil(receiver.terminator))
    return line[: -len(receiver.terminator)]


# --- Choosing a codec ------------------------------------------------------


def test_the_default_codec_is_the_standard_librarys() -> None:
    assert type(tcpframe.get_default_json_codec()) is tcpframe.StdlibJsonCodec


@pytest.mark.parametrize("name", CODEC_NAMES)
async def test_each_codec_round_trips_over_each_transport(
    connect_pair: typing.Callable, transport: Transport, name: str
) -> None:
    server, client = await connect_pair(
        transport=transport, server_kwargs=dict(json_codec=name), client_kwargs=dict(json_codec=name)
    )
    assert type(server.json_codec) is type(client.json_codec) is CODEC_CLASSES[name]
    messages = [
        {"command": "move", "parameters": {"position": [1.5, -2, None], "name": "☃ °C"}},
        [1, "two", True, False, 0.1, -(2**63), 2**64 - 1],
        "",
        {},
    ]
    for sender, receiver in ((client, server), (server, client)):
        for message in messages:
            await sender.write_json(message)
        for message in messages:
            assert await within_timeout(receiver.read_json()) == message
        await sender.write_json({"last": 1})
        async for message in receiver.iter_json():
            assert message == {"last": 1}
            break


@pytest.mark.parametrize("name", CODEC_NAMES)
async def test_each_codec_writes_what_its_library_writes(connect_pair: typing.Callable, name: str) -> None:
    server, client = await connect_pair(client_kwargs=dict(json_codec=name))
    message = {"id": "ESS-04", "values": [20.5, 21], "unit": "°C"}
    await client.write_json(message)
    expected = json.dumps(message).encode() if name == "json" else orjson.dumps(message)
    assert await next_line(server) == expected


async def test_the_global_default_applies_to_every_object_that_has_not_chosen_its_own(
    connect_pair: typing.Callable,
) -> None:
    server, client = await connect_pair(server_kwargs=dict(json_codec="json"))
    tcpframe.set_default_json_codec("orjson")  # after the objects were made
    assert type(client.json_codec) is tcpframe.OrjsonCodec
    assert type(server.json_codec) is tcpframe.StdlibJsonCodec
    await client.write_json({"a": 1})
    await server.write_json({"a": 1})
    assert await next_line(server) == b'{"a":1}'
    assert await next_line(client) == b'{"a": 1}'

    tcpframe.set_default_json_codec("json")
    await client.write_json({"a": 1})
    assert await next_line(server) == b'{"a": 1}'


async def test_json_codec_attribute_changes_take_effect_on_the_next_call(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    await client.write_json({"a": 1})
    client.json_codec = "orjson"
    await client.write_json({"a": 1})
    codec = tcpframe.OrjsonCodec()
    client.json_codec = codec
    assert client.json_codec is codec
    await client.write_json({"a": 2})
    assert [await next_line(server) for _ in range(3)] == [b'{"a": 1}', b'{"a":1}', b'{"a":2}']

    # None: back to following the default, whatever it becomes.
    client.json_codec = None
    assert client.json_codec is tcpframe.get_default_json_codec()
    tcpframe.set_default_json_codec(codec)
    assert client.json_codec is codec


@pytest.mark.parametrize(
    "server_class", [tcpframe.OneClientServer, tcpframe.TestOneClientReadLoopServer], ids=lambda cls: cls.__name__
)
async def test_every_client_and_server_takes_the_json_codec_keyword(
    connect_pair: typing.Callable, server_class: type
) -> None:
    server, client = await connect_pair(
        server_class=server_class, server_kwargs=dict(json_codec="orjson"), client_kwargs=dict(json_codec="orjson")
    )
    assert type(server.json_codec) is type(client.json_codec) is tcpframe.OrjsonCodec


@pytest.mark.parametrize(
    "choice, error", [("simplejson", ValueError), ("", ValueError), (json, TypeError), (1, TypeError)], ids=repr
)
async def test_a_choice_that_is_no_codec_is_refused_and_changes_nothing(
    connect_pair: typing.Callable, log: typing.Any, choice: typing.Any, error: type[Exception]
) -> None:
    _server, client = await connect_pair()
    default = tcpframe.get_default_json_codec()
    with pytest.raises(error, match="json_codec"):
        tcpframe.set_default_json_codec(choice)
    assert tcpframe.get_default_json_codec() is default
    codec = client.json_codec = tcpframe.OrjsonCodec()
    with pytest.raises(error, match="json_codec"):
        client.json_codec = choice
    assert client.json_codec is codec
    with pytest.raises(error, match="json_codec"):
        tcpframe.Client(host="", port=None, log=log, json_codec=choice)


async def test_choosing_orjson_when_it_is_not_installed_raises_import_error_naming_the_extra(
    connect_pair: typing.Callable, log: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, client = await connect_pair()
    monkeypatch.setitem(sys.modules, "orjson", None)  # `import orjson` now raises ImportError
    default = tcpframe.get_default_json_codec()
    for choose in (
        tcpframe.OrjsonCodec,
        lambda: tcpframe.set_default_json_codec("orjson"),
        lambda: setattr(client, "json_codec", "orjson"),
        lambda: tcpframe.Client(host="", port=None, log=log, json_codec="orjson"),
    ):
        with pytest.raises(ImportError, match=r"tcpframe\[orjson\]") as excinfo:
            choose()
        assert excinfo.value.name == "orjson"
    assert tcpframe.get_default_json_codec() is default
    assert client.json_codec is default
    # The stdlib codec needs nothing more.
    await client.write_json({"still": "working"})
    assert await within_timeout(server.read_json()) == {"still": "working"}


def test_utf8_names_all_name_utf8() -> None:
    assert {codecs.lookup(name).name for name in UTF8_NAMES} == {"utf-8"}


# --- Bad input ---------------------------------------------------------------

BAD_LINES = ["{'not': json", '{"a": x}', "[1,]", "", "   ", '{"a": 1} trailing', '"unterminated', '{"°C": x}']


@pytest.mark.parametrize("name", CODEC_NAMES)
async def test_a_bad_line_raises_json_decode_error_holding_the_text_and_loses_no_later_line(
    connect_pair: typing.Callable, name: str
) -> None:
    server, client = await connect_pair(client_kwargs=dict(json_codec=name))
    # All in one write, so that the later lines are buffered when each
    # bad line is rejected.
    terminator = server.terminator
    await server.write(
        b"".join(
            bad.encode() + terminator + b'{"after": %d}' % index + terminator for index, bad in enumerate(BAD_LINES)
        )
    )
    for index, bad in enumerate(BAD_LINES):
        with pytest.raises(json.JSONDecodeError) as excinfo:
            await within_timeout(client.read_json())
        error = excinfo.value
        assert type(error) is json.JSONDecodeError
        assert repr(bad) in str(error)
        assert error.doc == bad
        assert await within_timeout(client.read_json()) == {"after": index}
    assert client.connected


async def test_both_codecs_report_a_bad_line_with_the_same_position_in_its_text(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    bad = '{"température": x}'  # the error is after a non-ASCII character
    positions = {}
    for name in CODEC_NAMES:
        client.json_codec = name
        await server.write_str(bad)
        with pytest.raises(json.JSONDecodeError) as excinfo:
            await within_timeout(client.read_json())
        positions[name] = (excinfo.value.pos, excinfo.value.lineno, excinfo.value.colno)
    assert positions["json"] == positions["orjson"] == (bad.index("x"), 1, bad.index("x") + 1)


@pytest.mark.parametrize("name", CODEC_NAMES)
async def test_a_line_that_is_not_utf8_raises_unicode_decode_error_and_loses_no_later_line(
    connect_pair: typing.Callable, name: str
) -> None:
    server, client = await connect_pair(client_kwargs=dict(json_codec=name))
    await server.write(b'"\xff\xfe"\r\n{"next": true}\r\n')
    with pytest.raises(UnicodeDecodeError):
        await within_timeout(client.read_json())
    assert await within_timeout(client.read_json()) == {"next": True}


@pytest.mark.parametrize("name", CODEC_NAMES)
async def test_write_json_of_unserializable_data_raises_type_error_and_writes_nothing(
    connect_pair: typing.Callable, name: str
) -> None:
    server, client = await connect_pair(client_kwargs=dict(json_codec=name))
    for value in ({"a": object()}, {1, 2}, b"bytes"):
        with pytest.raises(TypeError):
            await client.write_json(value)
    await client.write_json("sentinel")
    assert await within_timeout(server.read_json()) == "sentinel"


@pytest.mark.parametrize("name", CODEC_NAMES)
async def test_a_line_over_the_limit_raises_limit_overrun_and_keeps_the_bytes(
    connect_pair: typing.Callable, name: str
) -> None:
    server, client = await connect_pair(client_kwargs=dict(limit=16, json_codec=name))
    line = b'["' + b"x" * 40 + b'"]\r\n'
    await server.write(line)
    with pytest.raises(asyncio.LimitOverrunError):
        await within_timeout(client.read_json())
    assert await within_timeout(client.readexactly(len(line))) == line


@pytest.mark.parametrize("name", CODEC_NAMES)
async def test_iter_json_ends_at_a_clean_end_and_a_cut_line_raises_incomplete_read(
    connect_pair: typing.Callable, name: str
) -> None:
    server, client = await connect_pair(client_kwargs=dict(json_codec=name))
    await server.write(b'{"n": 1}\r\n[2]\r\n')
    await server.close_client()
    assert [message async for message in client.iter_json()] == [{"n": 1}, [2]]

    server, client = await connect_pair(client_kwargs=dict(json_codec=name))
    await server.write(b'{"n": 1}\r\n{"cut')
    await server.close_client()
    assert await within_timeout(client.read_json()) == {"n": 1}
    with pytest.raises(asyncio.IncompleteReadError) as excinfo:
        await within_timeout(client.read_json())
    assert excinfo.value.partial == b'{"cut'


# --- Encodings and terminators -------------------------------------------------


@pytest.mark.parametrize("name", CODEC_NAMES)
@pytest.mark.parametrize("encoding", ["utf-8", "U8", "latin-1", "utf-16"])
@pytest.mark.parametrize("terminator", [b"\r\n", b"\n", b"XYZZY"], ids=repr)
async def test_each_codec_honours_encoding_and_terminator(
    connect_pair: typing.Callable, name: str, encoding: str, terminator: bytes
) -> None:
    server, client = await connect_pair()
    for end in (client, server):
        end.json_codec = name
        end.encoding = encoding
        end.terminator = terminator
    message = {"unit": "°C", "values": [1, 2.5]}
    text = json.dumps(message) if name == "json" else orjson.dumps(message).decode()
    await client.write_json(message)
    assert await next_line(server) == text.encode(encoding)
    await server.write_json(message)
    assert await within_timeout(client.read_json()) == message


@pytest.mark.parametrize("name", CODEC_NAMES)
async def test_a_terminator_that_is_not_json_whitespace_is_never_decoded_with_the_line(
    connect_pair: typing.Callable, name: str
) -> None:
    server, client = await connect_pair()
    for end in (client, server):
        end.json_codec = name
        end.terminator = b"0"  # "1" + "0" is valid JSON too, but the value is 1
    await server.write_json(1)
    await server.write_json([2])
    assert await within_timeout(client.read_json()) == 1
    assert await within_timeout(client.read_json()) == [2]


async def test_orjson_writes_non_ascii_text_raw_so_an_encoding_that_lacks_it_raises(
    connect_pair: typing.Callable,
) -> None:
    server, client = await connect_pair()
    client.encoding = "ascii"
    await client.write_json({"unit": "°C"})  # the stdlib escapes it
    assert await next_line(server) == b'{"unit": "\\u00b0C"}'
    client.json_codec = "orjson"
    with pytest.raises(UnicodeEncodeError):
        await client.write_json({"unit": "°C"})
    await client.write_json({"unit": "C"})
    assert await next_line(server) == b'{"unit":"C"}'


# --- What orjson does differently (tcpframe.json_codecs' docstring) -------------


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 2


class Mode(enum.StrEnum):
    AUTO = "auto"


class Text(str):
    pass


class Count(int):
    pass


class Mapping(dict):
    pass


class Items(list):
    pass


class Number(float):
    pass


Point = collections.namedtuple("Point", "x y")


@dataclasses.dataclass
class Sample:
    x: int


# (value, what the stdlib writes, what orjson writes); TypeError: refused.
ENCODINGS: dict[str, tuple[typing.Any, bytes | type[Exception], bytes | type[Exception]]] = {
    "nan": (math.nan, b"NaN", b"null"),
    "infinity": (math.inf, b"Infinity", b"null"),
    "-infinity": (-math.inf, b"-Infinity", b"null"),
    "2**64 - 1": (2**64 - 1, b"18446744073709551615", b"18446744073709551615"),
    "-2**63": (-(2**63), b"-9223372036854775808", b"-9223372036854775808"),
    "2**64": (2**64, b"18446744073709551616", TypeError),
    "-2**63 - 1": (-(2**63) - 1, b"-9223372036854775809", TypeError),
    "spacing": ({"a": [1, 2]}, b'{"a": [1, 2]}', b'{"a":[1,2]}'),
    "key order": ({"b": 1, "a": 2}, b'{"b": 1, "a": 2}', b'{"b":1,"a":2}'),
    "non-ascii": ("°C", b'"\\u00b0C"', '"°C"'.encode()),
    "float spelling": (1e-7, b"1e-07", b"1e-7"),
    "non-str keys": (
        {1: "a", 2.5: "b", False: "c", None: "d"},
        b'{"1": "a", "2.5": "b", "false": "c", "null": "d"}',
        TypeError,
    ),
    "str subclass": (Text("t"), b'"t"', b'"t"'),
    "int subclass": (Count(3), b"3", b"3"),
    "dict subclass": (Mapping(a=1), b'{"a": 1}', b'{"a":1}'),
    "list subclass": (Items([1]), b"[1]", b"[1]"),
    "int enum": (Level.HIGH, b"2", b"2"),
    "str enum": (Mode.AUTO, b'"auto"', b'"auto"'),
    "float subclass": (Number(1.5), b"1.5", TypeError),
    "tuple": ((1, 2), b"[1, 2]", b"[1,2]"),
    "namedtuple": (Point(1, 2), b"[1, 2]", TypeError),
    "enum": (Color.RED, TypeError, b'"red"'),
    "dataclass": (Sample(1), TypeError, b'{"x":1}'),
    "datetime": (datetime.datetime(2026, 12, 1, 12, 30), TypeError, b'"2026-12-01T12:30:00"'),
    "uuid": (uuid.UUID(int=1), TypeError, b'"00000000-0000-0000-0000-000000000001"'),
    "lone surrogate": ("\ud800", b'"\\ud800"', TypeError),
}


@pytest.mark.parametrize("case", sorted(ENCODINGS))
async def test_what_each_codec_writes(connect_pair: typing.Callable, case: str) -> None:
    server, client = await connect_pair()
    value, *expected = ENCODINGS[case]
    for name, wire in zip(CODEC_NAMES, expected, strict=True):
        client.json_codec = name
        if isinstance(wire, bytes):
            await client.write_json(value)
            assert await next_line(server) == wire, name
        else:
            with pytest.raises(wire):
                await client.write_json(value)
    await client.write_json("sentinel")  # a refused value wrote nothing
    assert await next_line(server) == b'"sentinel"'


# Nesting beyond the stdlib's recursion limit on CPython 3.11 to 3.13
# (about 1,000 to 10,000 levels, by version).
DEEP = 30_000


def same_float(expected: float) -> typing.Callable[[typing.Any], bool]:
    return lambda value: type(value) is float and (value == expected or (math.isnan(value) and math.isnan(expected)))


def equal_to(expected: typing.Any) -> typing.Callable[[typing.Any], bool]:
    return lambda value: type(value) is type(expected) and value == expected


# (line, what the stdlib reads, what orjson reads): a check of the value,
# or the exception it raises.
DECODINGS: dict[str, tuple[str, typing.Any, typing.Any]] = {
    "NaN": ("NaN", same_float(math.nan), json.JSONDecodeError),
    "Infinity": ("Infinity", same_float(math.inf), json.JSONDecodeError),
    "-Infinity": ("-Infinity", same_float(-math.inf), json.JSONDecodeError),
    "1e400": ("1e400", same_float(math.inf), json.JSONDecodeError),
    "2**64 - 1": (str(2**64 - 1), equal_to(2**64 - 1), equal_to(2**64 - 1)),
    "-2**63": (str(-(2**63)), equal_to(-(2**63)), equal_to(-(2**63))),
    "2**64": (str(2**64), equal_to(2**64), same_float(2.0**64)),
    "-2**63 - 1": (str(-(2**63) - 1), equal_to(-(2**63) - 1), same_float(-(2.0**63))),
    "10**30": (str(10**30), equal_to(10**30), same_float(1e30)),
    "key order": ('{"b": 1, "a": 2}', lambda value: list(value) == ["b", "a"], lambda value: list(value) == ["b", "a"]),
    "duplicate keys": ('{"a": 1, "a": 2}', equal_to({"a": 2}), equal_to({"a": 2})),
    "lone surrogate": ('"\\ud800"', equal_to("\ud800"), json.JSONDecodeError),
    f"{DEEP} levels": ("[" * DEEP + "]" * DEEP, RecursionError, json.JSONDecodeError),
}


@pytest.mark.parametrize("case", sorted(DECODINGS))
async def test_what_each_codec_reads(connect_pair: typing.Callable, case: str) -> None:
    server, client = await connect_pair()
    line, *expected = DECODINGS[case]
    for name, outcome in zip(CODEC_NAMES, expected, strict=True):
        client.json_codec = name
        await server.write_str(line)
        if isinstance(outcome, type):
            with pytest.raises(outcome) as excinfo:
                await within_timeout(client.read_json())
            if outcome is json.JSONDecodeError:
                assert type(excinfo.value) is json.JSONDecodeError and excinfo.value.doc == line
        else:
            assert outcome(await within_timeout(client.read_json())), name
    await server.write_str('"sentinel"')  # the bad line was consumed, no more
    assert await within_timeout(client.read_json()) == "sentinel"


async def test_orjson_reads_1024_levels_of_nesting_and_refuses_more(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair(client_kwargs=dict(json_codec="orjson"))
    await server.write_str("[" * 1024 + "]" * 1024)
    await server.write_str("[" * 1025 + "]" * 1025)
    value = await within_timeout(client.read_json())
    for _ in range(1023):
        (value,) = value
    assert value == []
    with pytest.raises(json.JSONDecodeError, match="depth"):
        await within_timeout(client.read_json())


# --- A user's codec ------------------------------------------------------------


class DecimalCodec(tcpframe.JsonCodec):
    """Reads and writes floats as `decimal.Decimal`, with text only."""

    name = "decimal"

    def decode(self, text: str) -> typing.Any:
        try:
            return json.loads(text, parse_float=decimal.Decimal)
        except json.JSONDecodeError as error:
            raise self.decode_error(text, error) from None

    def encode(self, value: typing.Any) -> str:
        return json.dumps(value, default=str)


async def test_a_codec_of_ones_own_serves_read_json_and_write_json(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair(server_kwargs=dict(json_codec=DecimalCodec()))
    await client.write_str('{"price": 1.10}')
    assert await within_timeout(server.read_json()) == {"price": decimal.Decimal("1.10")}
    await server.write_json({"price": decimal.Decimal("2.20")})
    assert await next_line(client) == b'{"price": "2.20"}'
    await client.write_str("{bad")
    with pytest.raises(json.JSONDecodeError, match=r"Could not parse '\{bad' as JSON"):
        await within_timeout(server.read_json())
