"""The compiled kernels: the kernel spec, parity with the twins, and what
only they do.

* `TestCompiledKernels` runs the kernel spec (``kernel_spec/``) on the
  compiled kernels, as ``test_kernels_twin.py`` runs it on the twins.
* The parity tests check that the compiled kernels and the twins are
  interchangeable, family by family: the same public names, the same
  signatures and docstrings for every public function, class and method,
  the same constants, and the same results, errors and buffer contents for
  the same random operation sequences; the fuzz targets of
  ``tools/fuzz_kernels.py`` run briefly.

``conftest.py`` collects this module only where
`tcpframe._kernels.load_compiled` succeeds, and reports why not otherwise
(for example under ``scripts/test_pure_only.sh``, which installs tcpframe
with no extension modules).
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import inspect
import re
import types
import typing

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel_spec import (
    CHECKSUMS,
    SEPARATORS,
    TOKENS,
    KernelSpec,
    encode_safely,
    framings,
    length_prefixes,
)
from tcpframe import ChecksumFrame, LengthPrefix, _kernels
from tools import fuzz_kernels

COMPILED = _kernels.load_compiled()
PURE = _kernels.PURE


class TestCompiledKernels(KernelSpec):
    kernels = COMPILED


# --- Names, signatures, docstrings ------------------------------------------------------------

# Public names only one implementation has, and why.
COMPILED_ONLY = {
    # The exporter behind get_buffer's view and the memory block it keeps
    # alive; the twin offers a memoryview of a bytearray.
    "receive_buffer": {"Storage", "StorageSpan"},
    # Holds the items' buffers while they are copied; the twin holds memoryviews.
    "structs": {"StructViews"},
}


def public_names(module: types.ModuleType) -> set[str]:
    """The public names a kernel module defines (not those it imports)."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", module.__name__) == module.__name__
    }


def public_api(family: str) -> list[str]:
    """The names of ``family`` that both implementations must share."""
    return sorted(public_names(getattr(PURE, family)))


def api_params(kinds: tuple[str, ...] = ("function", "class", "constant")) -> list:
    params = []
    for family in _kernels.FAMILIES:
        for name in public_api(family):
            value = getattr(getattr(PURE, family), name)
            kind = "class" if isinstance(value, type) else "function" if callable(value) else "constant"
            if kind in kinds:
                params.append(pytest.param(family, name, id=f"{family}.{name}"))
    return params


def methods(cls: type) -> dict[str, typing.Any]:
    """The public methods of ``cls``, and ``__len__`` if it has one."""
    return {
        name: getattr(cls, name)
        for name in dir(cls)
        if (not name.startswith("_") or name == "__len__") and callable(getattr(cls, name))
    }


def parameters(function: typing.Callable) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


# The signature Cython embeds as the first line of a docstring, e.g.
# "ReceiveBuffer.take_line(self, separator, Py_ssize_t limit, str encoding)".
EMBEDDED_SIGNATURE = re.compile(r"^(?P<name>[\w.]+)\((?P<parameters>.*)\)(?: -> .+)?$")


def docstring(value: object) -> str:
    """``value``'s docstring, without the signature Cython embeds."""
    text = inspect.cleandoc(value.__doc__ or "")
    first, _, rest = text.partition("\n\n")
    return inspect.cleandoc(rest) if EMBEDDED_SIGNATURE.match(first) else text


def compiled_constructor_parameters(cls: type, module: types.ModuleType) -> list[tuple[str, object]]:
    """(name, default) of a compiled class's constructor, read from the
    embedded signature (its ``__init__`` has none to inspect)."""
    match = EMBEDDED_SIGNATURE.match(inspect.cleandoc(cls.__doc__).partition("\n\n")[0])
    assert match and match["name"] == cls.__name__, cls.__doc__
    result = []
    for parameter in filter(None, (p.strip() for p in match["parameters"].split(","))):
        declaration, _, default = parameter.partition("=")
        name = declaration.replace(" not None", "").split()[-1]  # drop the C type
        result.append((name, eval(default, vars(module)) if default else inspect.Parameter.empty))
    return result


@pytest.mark.parametrize("family", _kernels.FAMILIES)
def test_families_export_the_same_names(family: str) -> None:
    compiled, pure = getattr(COMPILED, family), getattr(PURE, family)
    assert compiled.__all__ == pure.__all__
    assert set(pure.__all__) <= public_names(pure)
    assert public_names(compiled) - COMPILED_ONLY.get(family, set()) == public_names(pure)


@pytest.mark.parametrize(("family", "name"), api_params(("function",)))
def test_functions_have_the_same_signature_and_docstring(family: str, name: str) -> None:
    compiled, pure = getattr(getattr(COMPILED, family), name), getattr(getattr(PURE, family), name)
    assert parameters(compiled) == parameters(pure)
    assert docstring(compiled) == docstring(pure)
    assert docstring(pure), "a public kernel function needs a docstring"


@pytest.mark.parametrize(("family", "name"), api_params(("class",)))
def test_classes_have_the_same_constructor_methods_and_docstrings(family: str, name: str) -> None:
    module = getattr(COMPILED, family)
    compiled, pure = getattr(module, name), getattr(getattr(PURE, family), name)
    expected = [(p.name, p.default) for p in inspect.signature(pure).parameters.values()]
    assert compiled_constructor_parameters(compiled, module) == expected
    assert docstring(compiled) == docstring(pure)
    compiled_methods, pure_methods = methods(compiled), methods(pure)
    assert sorted(compiled_methods) == sorted(pure_methods)
    for method_name, method in pure_methods.items():
        if method_name.startswith("_"):
            continue  # __len__: a slot wrapper in the compiled class, with its standard docstring
        assert parameters(compiled_methods[method_name]) == parameters(method), method_name
        assert docstring(compiled_methods[method_name]) == docstring(method), method_name
        assert docstring(method), f"{name}.{method_name} needs a docstring"


@pytest.mark.parametrize(("family", "name"), api_params(("constant",)))
def test_constants_are_equal(family: str, name: str) -> None:
    assert getattr(getattr(COMPILED, family), name) == getattr(getattr(PURE, family), name)


# --- The same results for the same operations ---------------------------------------------


def outcome(call: typing.Callable[[], object]) -> tuple:
    """Return what ``call`` returned, or what it raised, comparably."""
    try:
        result = call()
    except AssertionError:
        raise
    except asyncio.LimitOverrunError as error:
        return ("raised", type(error), str(error), error.consumed)
    except Exception as error:  # every outcome is compared
        details = {name: getattr(error, name) for name in ("frame", "expected", "received") if hasattr(error, name)}
        return ("raised", type(error), str(error), details)
    return ("returned", bytes(result) if isinstance(result, memoryview) else result)


# Codecs for take_line: valid, strict ones that fail on some tokens, and unusable ones.
ENCODINGS = ["utf-8", "ascii", "latin-1", "utf-16", "no-such-codec", 8]
op_payloads = st.lists(st.sampled_from(TOKENS), max_size=12).map(b"".join)
op_sizes = st.integers(min_value=-3, max_value=60)
op_separators = st.sampled_from(SEPARATORS + [bytearray(b"\r\n"), memoryview(b"XYZZY")])
op_bad_separators = st.sampled_from([b"", bytearray(), "\n", None, 10])
op_limits = st.integers(min_value=-1, max_value=60)

receive_buffer_operations = st.one_of(
    st.tuples(st.just("feed"), op_payloads),
    st.tuples(st.just("receive"), op_payloads, st.integers(min_value=-1, max_value=80)),
    st.tuples(st.just("buffer_updated"), st.integers(min_value=-1, max_value=2)),
    st.tuples(st.just("take"), op_sizes),
    st.tuples(st.just("take_exactly"), op_sizes),
    st.tuples(st.just("take_until"), op_separators, op_limits),
    st.tuples(st.just("take_until"), op_bad_separators, op_limits),
    st.tuples(st.just("take_until_near_limit"), op_separators, st.integers(-1, 1)),
    st.tuples(st.just("take_line"), op_separators, op_limits, st.sampled_from(ENCODINGS)),
    st.tuples(st.just("copy_into"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("peek"), op_sizes),
    st.tuples(st.just("skip"), op_sizes),
    st.tuples(st.just("find"), op_separators),
    st.tuples(st.just("find"), op_bad_separators),
    st.tuples(st.just("clear")),
)


def apply_to_receive_buffer(buffer: typing.Any, operation: tuple) -> tuple:
    """Run one operation; return a comparable record of its outcome."""
    name, *args = operation

    def call() -> object:
        if name == "receive":
            data, extra = args
            if extra < 0:
                # The transport's default request: the receive size.
                sizehint = -1
                data = data[: buffer.receive_size]
            else:
                sizehint = len(data) + extra
            view = buffer.get_buffer(sizehint)
            assert len(view) >= max(sizehint, len(data))
            view[: len(data)] = data
            view.release()
            return buffer.buffer_updated(len(data))
        if name == "take_until_near_limit":
            # A limit next to the offset that decides between a frame, None
            # and LimitOverrunError, where an off-by-one would show.
            separator, delta = args
            index = buffer.find(separator)
            offset = index if index >= 0 else len(buffer) + 1 - len(separator)
            return buffer.take_until(separator, max(0, offset + delta))
        if name == "copy_into":
            target = bytearray(b"." * args[0])
            return buffer.copy_into(target), bytes(target)
        return getattr(buffer, name)(*args)

    return (*outcome(call), len(buffer), buffer.receive_size)


@settings(max_examples=500, deadline=None)
@given(
    min_receive_size=st.integers(min_value=1, max_value=32),
    growth=st.integers(min_value=0, max_value=64),
    sequence=st.lists(receive_buffer_operations, max_size=60),
)
def test_receive_buffers_agree_on_random_operations(min_receive_size: int, growth: int, sequence: list[tuple]) -> None:
    sizes = (min_receive_size, min_receive_size + growth)
    buffers = [COMPILED.receive_buffer.ReceiveBuffer(*sizes), PURE.receive_buffer.ReceiveBuffer(*sizes)]
    for step, operation in enumerate(sequence):
        compiled_outcome, pure_outcome = (apply_to_receive_buffer(b, operation) for b in buffers)
        assert compiled_outcome == pure_outcome, (step, operation)
        assert buffers[0].peek(1000) == buffers[1].peek(1000), (step, operation)


def raw_frame(prefix: LengthPrefix, payload_size: int) -> bytes:
    """Return a length-prefixed frame, ignoring ``prefix.max_frame_size``."""
    length = payload_size + prefix.size if prefix.includes_prefix else payload_size
    return length.to_bytes(prefix.size, prefix.byteorder) + bytes(range(payload_size))


# Operation sequences draw framings from short lists as well as at random,
# so that the frames in a stream often match the framing a later call
# reads them with.
FEW_PREFIXES = [
    LengthPrefix(),
    LengthPrefix(1, max_frame_size=10),
    LengthPrefix(2, "little", includes_prefix=True, max_frame_size=30),
    LengthPrefix(8, "little", max_frame_size=20),
]
FEW_FRAMINGS = [
    ChecksumFrame(),
    ChecksumFrame(checksum="sum8", start=b".", separator=b"", terminator=b"\r", covers_start=True, uppercase=False),
    ChecksumFrame(checksum="crc16_modbus", encoding="binary", start=b"", separator=b"", terminator=b"\n"),
    ChecksumFrame(checksum="crc32", separator=b"|", terminator=b"\x03"),
]
# Streams mix real frames with their pieces and with markers, so that
# complete, partial, bad and oversize frames all turn up often.
FRAME_TOKENS = [b"$", b"*", b"\r\n", b"\r", b"\n", b"\x03", b".", b"|"]
FRAME_TOKENS += [b"GP", b"4B", b"4b", b"zz", b"\x00", b"\xff\xff", b"\x05"]
BODIES = [b"", b"GPGGA,1", b"ab", b"0101WatchDog"]
some_prefixes = st.one_of(st.sampled_from(FEW_PREFIXES), length_prefixes)
some_framings = st.one_of(st.sampled_from(FEW_FRAMINGS), framings)
frame_tokens = st.one_of(
    st.sampled_from(FRAME_TOKENS),
    st.builds(raw_frame, some_prefixes, st.integers(0, 40)),
    st.builds(encode_safely, some_framings, st.sampled_from(BODIES)).map(lambda frame: frame or b""),
)
frame_operations = st.one_of(
    st.tuples(st.just("feed"), st.lists(frame_tokens, max_size=12).map(b"".join)),
    st.tuples(st.just("take_length_prefixed"), some_prefixes),
    st.tuples(st.just("length_prefixed_nbytes"), some_prefixes),
    st.tuples(st.just("take_checksummed"), some_framings, st.integers(min_value=-1, max_value=60)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(frame_operations, max_size=30))
def test_frame_kernels_agree_on_random_operations(sequence: list[tuple]) -> None:
    buffers = [COMPILED.receive_buffer.ReceiveBuffer(16), PURE.receive_buffer.ReceiveBuffer(16)]
    for operation in sequence:
        name, *args = operation
        outcomes = []
        for kernels, buffer in zip((COMPILED, PURE), buffers, strict=True):
            if name == "feed":
                outcomes.append(outcome(functools.partial(buffer.feed, *args)))
            else:
                outcomes.append(outcome(functools.partial(getattr(kernels.frames, name), buffer, *args)))
        assert outcomes[0] == outcomes[1], operation
        assert buffers[0].peek(1 << 20) == buffers[1].peek(1 << 20)


BAD_CHECKSUM_CALLS = [
    ("sum8", ("é",)),
    ("sum8", (None,)),
    ("xor8", (np.arange(4, dtype=np.uint8)[::2],)),
    ("crc16_modbus", ("text",)),
    ("crc16_ccitt", (b"", 0x10000)),
    ("crc16_xmodem", (b"", "0")),
    ("crc32", (3,)),
    ("crc32", (b"", None)),
    ("format_hex2", (256,)),
    ("format_hex2", ("5",)),
    ("verify_hex2", (5, "5")),
    ("verify_hex2", (5, None)),
    ("verify_hex2", (-1, "05")),
]


@pytest.mark.parametrize(("name", "args"), BAD_CHECKSUM_CALLS, ids=repr)
def test_checksums_raise_the_same_error(name: str, args: tuple) -> None:
    compiled_outcome = outcome(lambda: getattr(COMPILED.checksums, name)(*args))
    assert compiled_outcome[0] == "raised"
    assert compiled_outcome == outcome(lambda: getattr(PURE.checksums, name)(*args))


@pytest.mark.parametrize("name", CHECKSUMS)
def test_checksums_of_a_large_input_agree(name: str) -> None:
    # Past 64 KiB the compiled kernels run without the GIL.
    data = np.random.default_rng(seed=2).integers(0, 256, 300_001, np.uint8)
    assert getattr(COMPILED.checksums, name)(data) == getattr(PURE.checksums, name)(data)


STRUCT_CALLS = [
    ("join_structs", ([b"ab", "cd"],)),
    ("join_structs", ([b"ab", 3],)),
    ("join_structs", ([np.arange(8, dtype=np.uint8)[::2]],)),
    ("join_structs", (5,)),
    ("append_structs", (b"abc", [b"x"])),
    ("append_structs", (bytearray(b"abc"), [b"x", None])),
    ("writable_nbytes", (b"abc",)),
    ("writable_nbytes", (np.zeros((4, 4))[:, 1],)),
    ("writable_nbytes", (1.5,)),
]


@pytest.mark.parametrize(("name", "args"), STRUCT_CALLS, ids=repr)
def test_structs_raise_the_same_error(name: str, args: tuple) -> None:
    compiled_outcome = outcome(lambda: getattr(COMPILED.structs, name)(*args))
    assert compiled_outcome[0] == "raised"
    assert compiled_outcome == outcome(lambda: getattr(PURE.structs, name)(*args))


def test_structs_refuse_an_item_sharing_dest_memory_alike() -> None:
    for structs in (COMPILED.structs, PURE.structs):
        dest = bytearray(b"abc")
        for item in (dest, memoryview(dest)[1:]):
            with pytest.raises(BufferError):
                structs.append_structs(dest, [b"x", item])
            assert dest == b"abc"


# --- The fuzz targets, briefly (``python -m tools.fuzz_kernels`` runs them longer) -----------

FUZZ_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ_SETTINGS
@given(data=st.binary(max_size=3000))
def test_fuzz_receive_buffer_operations(data: bytes) -> None:
    fuzz_kernels.receive_buffer_ops(data)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=3000))
def test_fuzz_checksums(data: bytes) -> None:
    fuzz_kernels.checksum_agreement(data)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=1000))
def test_fuzz_structs(data: bytes) -> None:
    fuzz_kernels.struct_agreement(data)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=3000))
def test_fuzz_frames(data: bytes) -> None:
    fuzz_kernels.frame_agreement(data)


def test_fuzz_tool_runs_for_the_time_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz_kernels.main(["--seconds", "0.5", "--seed", "7"]) == 0
    output = capsys.readouterr().out
    for name in fuzz_kernels.TARGETS:
        assert f"{name}: " in output and "no failure" in output


# --- What only the compiled receive buffer does ------------------------------------------------


def test_compiled_buffer_growing_under_a_live_view_moves_to_a_new_block_and_leaves_the_view_its_memory() -> None:
    # The twin receives into a separate scratch buffer; the compiled buffer
    # receives in place, so growing while a caller still holds a view (as
    # asyncio's TLS layer does) must neither free the view's memory nor
    # move unread bytes under it.
    buffer = COMPILED.receive_buffer.ReceiveBuffer(8)
    view = buffer.get_buffer()
    buffer.feed(b"ab")  # fits: no growth
    buffer.feed(b"x" * (len(view) + 1))  # grows: into a new block
    view[:] = b"y" * len(view)  # still its own, valid memory; the buffer is unaffected
    assert buffer.take() == b"ab" + b"x" * (len(view) + 1)
    view.release()
    buffer.feed(b"z" * 100)
    assert buffer.take() == b"z" * 100


def test_compiled_buffer_view_exports_follow_the_buffer_protocol() -> None:
    buffer = COMPILED.receive_buffer.ReceiveBuffer(8)
    view = buffer.get_buffer()
    assert view.format == "B"
    assert view.itemsize == 1
    assert view.c_contiguous
    assert view.shape == (len(view),)
    ctypes_view = (ctypes.c_char * 3).from_buffer(view)
    ctypes_view.raw = b"xyz"
    del ctypes_view
    view.release()
    buffer.buffer_updated(3)
    assert buffer.take() == b"xyz"
