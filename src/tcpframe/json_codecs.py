"""JSON codecs: how `~BaseClientOrServer.read_json` and
`~BaseClientOrServer.write_json` turn lines into values and back.

Two codecs come with tcpframe:

``"json"``, `StdlibJsonCodec`
    The default: the standard library's `json`, with lsst.ts.tcpip's
    semantics (`json.loads`; `json.dumps` with its default arguments).
``"orjson"``, `OrjsonCodec`
    `orjson <https://github.com/ijl/orjson>`_: on a 110-byte telemetry
    message, about 3 times faster to decode and more than 10 times
    faster to encode. It is an optional dependency (``pip install
    "tcpframe[orjson]"``), never chosen by default.

Choose one for every client and server that has not chosen its own with
`set_default_json_codec`, or for one of them with its ``json_codec``
argument or attribute (`BaseClientOrServer.json_codec`). Either way the
line is read and written as `~BaseClientOrServer.read_str` and
`~BaseClientOrServer.write_str` do, with the object's ``encoding`` and
``terminator``. With either codec a line that is not valid JSON raises a
`json.JSONDecodeError` whose message holds the line; the line is
consumed, and the next read gets the next line.

What orjson does differently from the stdlib (tests/test_json_codecs.py
checks each of these):

- ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON: orjson refuses
  them on reading (`json.JSONDecodeError`), as it does a number too large
  for a double (``1e400``; the stdlib reads ``inf``), and writes ``null``
  for a NaN or infinite float (the stdlib writes ``NaN`` / ``Infinity``).
- Integers: orjson writes integers from -2**63 to 2**64 - 1 and raises
  `TypeError` for any other (the stdlib writes any integer). It reads an
  integer outside that range as a `float`, losing precision (the stdlib
  reads it exactly).
- Output is compact, ``{"a":[1,2]}`` (the stdlib writes ``{"a": [1, 2]}``),
  and a float may be spelled differently (``1e-7`` for the stdlib's
  ``1e-07``; the value is the same).
- Non-ASCII text is written as it is (the stdlib writes ``\\u00b0``
  escapes), so with an `~BaseClientOrServer.encoding` that lacks a
  character, writing it raises `UnicodeEncodeError` with orjson only.
- Dict keys must be `str`: orjson raises `TypeError` for other keys (the
  stdlib writes `int`, `float`, `bool` and None keys as strings).
- Types: orjson writes subclasses of `str`, `int`, `dict` and `list`
  (so `enum.IntEnum` and `enum.StrEnum` members) as the stdlib does, but
  raises `TypeError` for subclasses of `float` and `tuple` (e.g. a
  `~collections.namedtuple`), which the stdlib writes as a number and an
  array. It writes dataclass instances, `datetime.datetime`,
  `uuid.UUID` and any `enum.Enum` member, which the stdlib refuses.
- Strings with lone surrogates (``"\\ud800"``) are refused both ways:
  `json.JSONDecodeError` on reading, `TypeError` on writing (the stdlib
  reads and writes them).
- Nesting deeper than 1024 levels raises `json.JSONDecodeError`. (The
  stdlib reads deeper, but raises `RecursionError` somewhere between
  about 1,000 and 10,000 levels, depending on the Python version.)

Both keep key order (as written on encoding, as read on decoding) and
keep the last of duplicate keys.
"""

from __future__ import annotations

__all__ = [
    "JsonCodec",
    "JsonCodecChoice",
    "OrjsonCodec",
    "StdlibJsonCodec",
    "get_default_json_codec",
    "set_default_json_codec",
]

import abc
import json
import typing
from collections.abc import Callable

# Encoding names for which read_json and write_json hand a codec UTF-8
# bytes (decode_utf8, encode_utf8). Other spellings of UTF-8 (e.g. "U8")
# take the text path: the same results, a little slower.
UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8", "UTF-8", "UTF8", "UTF_8"})

# Terminators that are JSON whitespace: a line that ends in one decodes to
# the value of the line without it, so read_json can leave it on. With any
# other terminator read_json takes the text path.
JSON_WHITESPACE_TERMINATORS = frozenset({b"\r\n", b"\n", b"\r"})


class JsonCodec(abc.ABC):
    """How `~BaseClientOrServer.read_json` and
    `~BaseClientOrServer.write_json` decode and encode JSON.

    A subclass defines `decode` and `encode`, which work on text. A codec
    that works on UTF-8 bytes as well also sets `decode_utf8` and
    `encode_utf8`, which `~BaseClientOrServer.read_json` and
    `~BaseClientOrServer.write_json` then use when the encoding is UTF-8
    (and, for reading, the terminator is JSON whitespace), skipping the
    decode or encode of the text (set them on the instance, as
    `OrjsonCodec` does, so that a Python function is not bound as a
    method). Codecs hold no per-connection state: one instance may serve
    any number of clients and servers.

    Attributes
    ----------
    name : `str`
        The codec's name, which may be given instead of the codec where
        one is chosen (``"json"``, ``"orjson"``).
    decode_utf8 : callable or None
        ``decode_utf8(line)`` returns the JSON value of `bytes` ``line``,
        which may end in JSON whitespace. It may raise any `ValueError`
        for a line that is not UTF-8 JSON: `read_json` then has `decode`
        report it, from the line's text. None if the codec decodes text
        only.
    encode_utf8 : callable or None
        ``encode_utf8(value)`` returns what ``encode(value).encode()``
        would, or raises `TypeError` as `encode` does. None if the codec
        encodes to text only.
    """

    name: typing.ClassVar[str]
    decode_utf8: Callable[[bytes], typing.Any] | None = None
    encode_utf8: Callable[[typing.Any], bytes] | None = None

    @abc.abstractmethod
    def decode(self, text: str) -> typing.Any:
        """Decode one JSON value.

        Raises
        ------
        json.JSONDecodeError
            If ``text`` is not one valid JSON value, with the message of
            `decode_error`.
        """
        raise NotImplementedError()

    @abc.abstractmethod
    def encode(self, value: typing.Any) -> str:
        """Return ``value`` as JSON text.

        Raises
        ------
        TypeError
            If ``value`` cannot be written as JSON.
        """
        raise NotImplementedError()

    @staticmethod
    def decode_error(text: str, error: json.JSONDecodeError) -> json.JSONDecodeError:
        """Return the error that `decode` raises for ``text``, which
        ``error`` rejected.

        Every codec reports a bad line this way: a `json.JSONDecodeError`
        (not a subclass) whose message holds ``text`` and ``error``'s
        reason, with ``error``'s position in ``text``.
        """
        return json.JSONDecodeError(f"Could not parse {text!r} as JSON: {error.msg}", text, error.pos)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# json.loads checks its argument's type, skips leading whitespace and
# checks for trailing data around one call of the decoder's C scanner.
# StdlibJsonCodec.decode calls the scanner directly and falls back to
# json.loads only when the text is not one bare JSON value. (JSONDecoder
# sets scan_once in __init__; the stubs do not declare it.)
_ScanJson = Callable[[str, int], tuple[typing.Any, int]]
_scan_json_value: _ScanJson = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


class StdlibJsonCodec(JsonCodec):
    """The standard library's `json`, with lsst.ts.tcpip's semantics: the
    default codec.

    `decode` gives what `json.loads` gives; `encode` is `json.dumps` with
    its default arguments. It works on text only: `read_json` decodes a
    line as `read_str` does, `write_json` encodes one as `write_str`
    does.
    """

    name = "json"

    def decode(self, text: str) -> typing.Any:
        try:
            value, end = _scan_json_value(text, 0)
            if end == len(text):
                return value
        except (StopIteration, json.JSONDecodeError):
            pass
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise self.decode_error(text, error) from None

    def encode(self, value: typing.Any) -> str:
        return json.dumps(value)


class OrjsonCodec(JsonCodec):
    """`orjson <https://github.com/ijl/orjson>`_: several times faster than
    `StdlibJsonCodec`, with the differences listed in `tcpframe.json_codecs`.

    With a UTF-8 encoding, `read_json` gives orjson each line's bytes and
    `write_json` sends the bytes orjson makes, as they are; with any other
    encoding they decode and encode text, as with `StdlibJsonCodec`.

    Raises
    ------
    ImportError
        If orjson is not installed (``pip install "tcpframe[orjson]"``).
    """

    name = "orjson"

    def __init__(self) -> None:
        try:
            import orjson
        except ImportError as error:
            raise ImportError(
                'The orjson JSON codec needs orjson: pip install "tcpframe[orjson]"', name="orjson"
            ) from error
        self.decode_utf8 = self._loads = orjson.loads
        self.encode_utf8 = self._dumps = orjson.dumps
        self._orjson_decode_error = orjson.JSONDecodeError

    def decode(self, text: str) -> typing.Any:
        try:
            return self._loads(text)
        except self._orjson_decode_error as error:
            raise self.decode_error(text, error) from None

    def encode(self, value: typing.Any) -> str:
        return self._dumps(value).decode()


_CODEC_CLASSES: dict[str, type[JsonCodec]] = {codec.name: codec for codec in (StdlibJsonCodec, OrjsonCodec)}


def _json_codec_named(codec: JsonCodec | str) -> JsonCodec:
    """Return ``codec`` if it is a `JsonCodec`, else a new codec of that
    name: ``"json"`` (`StdlibJsonCodec`) or ``"orjson"`` (`OrjsonCodec`).

    Raises
    ------
    ValueError
        If ``codec`` is a name of no codec.
    TypeError
        If ``codec`` is neither a `JsonCodec` nor a `str`.
    ImportError
        If the codec needs a package that is not installed.
    """
    if isinstance(codec, JsonCodec):
        return codec
    if not isinstance(codec, str):
        raise TypeError(f"json_codec={codec!r} must be a JsonCodec or the name of one")
    try:
        codec_class = _CODEC_CLASSES[codec]
    except KeyError:
        raise ValueError(f"json_codec={codec!r} is not one of {sorted(_CODEC_CLASSES)}") from None
    return codec_class()


class JsonCodecChoice:
    """The `json_codec` attribute of `BaseClientOrServer`, which mixes
    this in.

    The codec of an object that has not chosen one is the default, a
    class attribute here, which `set_default_json_codec` replaces: so the
    JSON methods find the codec with one attribute lookup, whichever it
    is.
    """

    _json_codec: JsonCodec = StdlibJsonCodec()

    @property
    def json_codec(self) -> JsonCodec:
        """The codec of `read_json` and `write_json` (a `JsonCodec`).

        May be changed at any time, to a `JsonCodec` or the name of one
        (``"json"``, ``"orjson"``); takes effect on the next call. None
        means the default (`get_default_json_codec`), now and after any
        later `set_default_json_codec`.
        """
        return self._json_codec

    @json_codec.setter
    def json_codec(self, codec: JsonCodec | str | None) -> None:
        if codec is None:
            # Not vars(self).pop(): making the instance's __dict__ would
            # slow every attribute lookup on the object.
            try:
                del self._json_codec
            except AttributeError:  # it had no codec of its own
                pass
        else:
            self._json_codec = _json_codec_named(codec)


def set_default_json_codec(codec: JsonCodec | str) -> None:
    """Make ``codec`` the JSON codec of every client and server that has
    not chosen its own, from their next `read_json` or `write_json` on.

    If it raises, the default is unchanged.

    Parameters
    ----------
    codec : `JsonCodec` or `str`
        A codec or its name: ``"orjson"``, or ``"json"`` to go back to the
        standard library's, the default.

    Raises
    ------
    ValueError
        If ``codec`` is a name of no codec.
    TypeError
        If ``codec`` is neither a `JsonCodec` nor a `str`.
    ImportError
        If the codec needs a package that is not installed (orjson).
    """
    JsonCodecChoice._json_codec = _json_codec_named(codec)


def get_default_json_codec() -> JsonCodec:
    """Return the JSON codec of clients and servers that have not chosen
    their own (a `StdlibJsonCodec` unless `set_default_json_codec` was
    called)."""
    return JsonCodecChoice._json_codec
