"""Fuzz the compiled kernels against their pure-Python twins.

Four targets, one per kernel family: receive buffer operations, checksums,
struct copies and frames.

Each fuzz target takes one byte string, decodes it into operations on a
compiled kernel and on its twin, and asserts that both give the same
results and raise the same exceptions (and, for the receive buffer, that
no byte is lost or invented). A crash, a hang or a disagreement is a bug.

The compiled-vs-twin tests (``tests/test_kernels_compiled.py``) run the
targets briefly under Hypothesis in every test run where the compiled
kernels are built. This tool runs them for longer on random and mutated
inputs, from the repository root::

    python -m tools.fuzz_kernels --seconds 600

It prints how many inputs each target ran; on a failure it saves the input
to ``fuzz-failure-<target>.bin`` and re-raises. Rebuilt with
AddressSanitizer (``scripts/asan.sh --fuzz-seconds N``) it also catches
memory errors the comparison cannot see.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tcpframe import NMEA, ChecksumFrame, FrameError, LengthPrefix, _kernels

# Raises ImportError where the compiled kernels are not built: there is
# nothing to compare the twins with.
COMPILED = _kernels.load_compiled()
PURE = _kernels.PURE

SEPARATORS = [b"\n", b"\r\n", b"XYZZY", b"ZZ", b"\x00", b"\xff\xfe"]
ENCODINGS = ["utf-8", "ascii", "latin-1"]


class Program:
    """Reads operation codes and arguments from a fuzz input, then zeros."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def __bool__(self) -> bool:
        return self.position < len(self.data)

    def byte(self) -> int:
        if self.position >= len(self.data):
            return 0
        self.position += 1
        return self.data[self.position - 1]

    def integer(self, low: int, high: int) -> int:
        """An int in [low, high]."""
        value = self.byte() | self.byte() << 8
        return low + value % (high - low + 1)

    def payload(self, max_size: int = 200) -> bytes:
        size = self.integer(0, max_size)
        start = self.position
        self.position += size
        return self.data[start : self.position]

    def separator(self) -> object:
        choice = self.byte()
        if choice < 200:
            return SEPARATORS[choice % len(SEPARATORS)]
        if choice < 240:
            return self.payload(4) or b"\n"
        return [b"", "\n", None, bytearray(b"\r\n"), memoryview(b"ZZ")][choice % 5]


def outcome(call: Callable[[], object]) -> tuple:
    """Run ``call``; return a comparable record of its result or exception."""
    try:
        result = call()
    except asyncio.LimitOverrunError as error:
        return ("LimitOverrunError", error.consumed)
    except UnicodeDecodeError as error:
        return ("UnicodeDecodeError", error.object, error.start, error.end)
    except (ValueError, TypeError, BufferError, LookupError, OverflowError) as error:
        return (type(error).__name__,)
    if isinstance(result, memoryview):
        result = bytes(result)
    return ("result", result)


def receive_buffer_ops(data: bytes) -> None:
    """Fuzz target: receive buffer operations, compiled vs twin."""
    program = Program(data)
    chunk_size = program.integer(1, 300)
    buffers = [
        COMPILED.receive_buffer.ReceiveBuffer(chunk_size),
        PURE.receive_buffer.ReceiveBuffer(chunk_size),
    ]
    # What the buffers must hold: every byte fed, less every byte consumed.
    expected = bytearray()
    steps = 0
    while program and steps < 400:
        steps += 1
        op = program.byte() % 12
        outcomes = []
        if op == 0:
            payload = program.payload()
            kind = program.byte() % 3
            for buffer in buffers:
                arg = [payload, bytearray(payload), memoryview(payload)][kind]
                outcomes.append(outcome(lambda: buffer.feed(arg)))
            expected += payload
        elif op == 1:
            payload = program.payload()
            sizehint = program.integer(-1, 400)
            # Only as much as every implementation must offer.
            payload = payload[: max(sizehint, chunk_size)]
            commit = program.integer(0, len(payload))
            for buffer in buffers:

                def receive(buffer: object = buffer) -> int:
                    view = buffer.get_buffer(sizehint)
                    if len(view) < max(sizehint, chunk_size, 1):
                        raise AssertionError(f"get_buffer({sizehint}) offered only {len(view)} bytes")
                    view[: len(payload)] = payload
                    view.release()
                    buffer.buffer_updated(commit)
                    return commit

                outcomes.append(outcome(receive))
            if outcomes[0][0] == "result":
                expected += payload[: outcomes[0][1]]
        elif op == 2:
            n = program.integer(-2, 300)
            outcomes = [outcome(lambda b=b: b.take(n)) for b in buffers]
        elif op == 3:
            n = program.integer(-2, 300)
            outcomes = [outcome(lambda b=b: b.take_exactly(n)) for b in buffers]
        elif op == 4:
            separator = program.separator()
            limit = program.integer(-1, 300)
            outcomes = [outcome(lambda b=b: b.take_until(separator, limit)) for b in buffers]
        elif op == 5:
            separator = program.separator()
            limit = program.integer(0, 300)
            encoding = ENCODINGS[program.byte() % len(ENCODINGS)]
            outcomes = [outcome(lambda b=b: b.take_line(separator, limit, encoding)) for b in buffers]
            if outcomes[0][0] == "result" and outcomes[0][1] is not None:
                separator_length = len(bytes(separator))
                line_length = len(outcomes[0][1].encode(encoding))
                del expected[: line_length + separator_length]
            elif outcomes[0][0] == "UnicodeDecodeError":
                del expected[: len(outcomes[0][1]) + len(bytes(separator))]
        elif op == 6:
            size = program.integer(0, 300)
            kind = program.byte() % 3

            def copy_into(buffer: object) -> tuple[bool, bytes]:
                if kind == 0:
                    target = bytearray(b"." * size)
                elif kind == 1:
                    target = np.full(size // 4, 7, dtype=np.uint32)
                else:
                    target = (np.zeros(size, dtype=np.uint8))[::2]  # not contiguous
                return buffer.copy_into(target), bytes(memoryview(target).tobytes())

            outcomes = [outcome(lambda b=b: copy_into(b)) for b in buffers]
            if outcomes[0][0] == "result" and outcomes[0][1][0]:
                del expected[: len(outcomes[0][1][1])]
        elif op == 7:
            n = program.integer(-2, 300)
            outcomes = [outcome(lambda b=b: b.peek(n)) for b in buffers]
        elif op == 8:
            n = program.integer(-2, 300)
            outcomes = [outcome(lambda b=b: b.skip(n)) for b in buffers]
            if outcomes[0][0] == "result":
                del expected[: outcomes[0][1]]
        elif op == 9:
            separator = program.separator()
            outcomes = [outcome(lambda b=b: b.find(separator)) for b in buffers]
        elif op == 10:
            outcomes = [outcome(b.clear) for b in buffers]
            expected.clear()
        else:
            # A view kept alive across a feed: the compiled buffer must
            # refuse to move its storage (BufferError), never write to freed memory.
            payload = program.payload(400)
            for buffer in buffers:

                def hold_view_and_feed(buffer: object = buffer) -> int:
                    view = buffer.get_buffer(-1)
                    try:
                        buffer.feed(payload)
                    except BufferError:
                        return -1
                    finally:
                        view.release()
                    return len(payload)

                outcomes.append(outcome(hold_view_and_feed))
            # The twin may accept what the compiled buffer refuses; only the
            # accepted bytes count. Resynchronise on the compiled buffer.
            if outcomes[0] != outcomes[1]:
                if outcomes[0] == ("result", -1):
                    buffers[1].clear()
                    buffers[1].feed(buffers[0].peek(len(buffers[0])))
                outcomes = outcomes[:1]
            if outcomes[0] == ("result", len(payload)):
                expected += payload
        if op in (2, 3, 4) and outcomes[0][0] == "result" and outcomes[0][1] is not None:
            del expected[: len(outcomes[0][1])]
        assert all(o == outcomes[0] for o in outcomes), f"op {op}: compiled {outcomes[0]} != twin {outcomes[-1]}"
        for buffer in buffers:
            assert len(buffer) == len(expected), f"op {op}: {len(buffer)} buffered, {len(expected)} expected"
            assert buffer.peek(len(expected) + 1) == expected, f"op {op}: buffered bytes differ"


CHECKSUMS = ["sum8", "xor8", "crc16_modbus", "crc16_ccitt", "crc16_xmodem", "crc32"]


def checksum_agreement(data: bytes) -> None:
    """Fuzz target: every checksum, compiled vs twin, on many buffer types."""
    if not data:
        data = b"\x00"
    start = data[0] | data[-1] << 8
    body = data[1:]
    arrays = {
        "bytes": body,
        "bytearray": bytearray(body),
        "memoryview slice": memoryview(data)[1:],
        "numpy uint8": np.frombuffer(body, dtype=np.uint8),
        "non-contiguous": memoryview(body)[::2],
        "ascii str": body.decode("latin-1"),
    }
    for name in CHECKSUMS:
        compiled, pure = getattr(COMPILED.checksums, name), getattr(PURE.checksums, name)
        for kind, value in arrays.items():
            results = [outcome(lambda f=f: f(value)) for f in (compiled, pure)]
            assert results[0] == results[1], f"{name}({kind}): compiled {results[0]} != twin {results[1]}"
            if name.startswith("crc"):
                results = [outcome(lambda f=f: f(value, start)) for f in (compiled, pure)]
                assert results[0] == results[1], f"{name}({kind}, {start}): {results[0]} != {results[1]}"
        if name == "crc32":
            assert compiled(body, start) == zlib.crc32(body, start)
    checksum = COMPILED.checksums.sum8(body)
    for uppercase in (False, True):
        digits = COMPILED.checksums.format_hex2(checksum, uppercase)
        assert digits == PURE.checksums.format_hex2(checksum, uppercase)
        assert COMPILED.checksums.verify_hex2(checksum, digits) and PURE.checksums.verify_hex2(checksum, digits)
    received = body[:2]
    results = [outcome(lambda m=m: m.verify_hex2(checksum, received)) for m in (COMPILED.checksums, PURE.checksums)]
    assert results[0] == results[1], f"verify_hex2({received!r}): {results[0]} != {results[1]}"


def struct_agreement(data: bytes) -> None:
    """Fuzz target: struct copying, compiled vs twin."""
    program = Program(data)
    pieces = [program.payload(64) for _ in range(program.integer(0, 5))]
    structs = [bytearray(piece) if i % 2 else piece for i, piece in enumerate(pieces)]
    if program.byte() % 4 == 0:  # now and then a bad (or odd: empty, strided) item among good ones
        odd = [None, "text", memoryview(bytes(8))[::2], memoryview(b"")[::2]]
        structs.insert(program.integer(0, len(structs)), odd[program.byte() % len(odd)])
    joined = [outcome(lambda m=m: m.join_structs(structs)) for m in (COMPILED.structs, PURE.structs)]
    assert joined[0] == joined[1], f"join_structs: compiled {joined[0]} != twin {joined[1]}"
    appended = []
    for module in (COMPILED.structs, PURE.structs):
        dest = bytearray(b"head")
        appended.append((outcome(lambda m=module, d=dest: m.append_structs(d, structs)), bytes(dest)))
    assert appended[0] == appended[1], f"append_structs: compiled {appended[0]} != twin {appended[1]}"
    if joined[0][0] == "result":
        assert joined[0][1] == b"".join(pieces)
        assert appended[0][1] == b"head" + b"".join(pieces)


PREFIXES = [
    LengthPrefix(),
    LengthPrefix(1, max_frame_size=10),
    LengthPrefix(2, "little", includes_prefix=True, max_frame_size=300),
    LengthPrefix(8, "little", max_frame_size=200),
]
FRAMINGS = [
    NMEA,
    ChecksumFrame(checksum="sum8", start=b".", separator=b"", terminator=b"\r", covers_start=True),
    ChecksumFrame(checksum="crc16_modbus", encoding="binary", start=b"", separator=b"", terminator=b"\n"),
    ChecksumFrame(checksum="crc16_xmodem", encoding="binary", byteorder="little", terminator=b"\r\n"),
    ChecksumFrame(checksum="crc32", separator=b"|", terminator=b"\x03"),
]


def frame_outcome(call: Callable[[], object]) -> tuple:
    """`outcome`, with the frame a `FrameError` carries."""
    try:
        return ("result", call())
    except FrameError as error:
        return (type(error).__name__, str(error), error.frame)
    except asyncio.LimitOverrunError as error:
        return ("LimitOverrunError", error.consumed)
    except ValueError as error:
        return ("ValueError", str(error))


def frame_agreement(data: bytes) -> None:
    """Fuzz target: frame kernels, compiled vs twin, on streams of good,
    cut, corrupt and oversize frames and garbage."""
    program = Program(data)
    chunk_size = program.integer(1, 64)
    buffers = [COMPILED.receive_buffer.ReceiveBuffer(chunk_size), PURE.receive_buffer.ReceiveBuffer(chunk_size)]
    steps = 0
    while program and steps < 200:
        steps += 1
        op = program.byte() % 6
        if op < 3:
            if op == 0:
                chunk = program.payload(100)
            elif op == 1:
                try:
                    chunk = FRAMINGS[program.byte() % len(FRAMINGS)].encode(program.payload(40))
                except FrameError:
                    continue  # a body holding the terminator cannot be written
                if chunk and program.byte() < 64:  # corrupt a byte
                    chunk = bytearray(chunk)
                    chunk[program.integer(0, len(chunk) - 1)] ^= program.integer(1, 255)
                    chunk = bytes(chunk)
            else:
                prefix = PREFIXES[program.byte() % len(PREFIXES)]
                size = program.integer(0, 300)
                length = size + prefix.size if prefix.includes_prefix else size
                declared = (length % 2 ** (8 * prefix.size)).to_bytes(prefix.size, prefix.byteorder)
                chunk = declared + program.payload(size)
            for buffer in buffers:
                buffer.feed(chunk)
            continue
        pairs = list(zip((COMPILED, PURE), buffers, strict=True))
        if op == 5:
            framing = FRAMINGS[program.byte() % len(FRAMINGS)]
            limit = program.integer(-1, 300)
            calls = [functools.partial(k.frames.take_checksummed, b, framing, limit) for k, b in pairs]
        else:
            prefix = PREFIXES[program.byte() % len(PREFIXES)]
            name = "take_length_prefixed" if op == 3 else "length_prefixed_nbytes"
            calls = [functools.partial(getattr(k.frames, name), b, prefix) for k, b in pairs]
        outcomes = [frame_outcome(call) for call in calls]
        assert outcomes[0] == outcomes[1], f"op {op}: compiled {outcomes[0]} != twin {outcomes[1]}"
        unread = [buffer.peek(len(buffer) + 1) for buffer in buffers]
        assert unread[0] == unread[1], f"op {op}: buffered bytes differ"


TARGETS: dict[str, Callable[[bytes], None]] = {
    "receive_buffer_ops": receive_buffer_ops,
    "checksum_agreement": checksum_agreement,
    "struct_agreement": struct_agreement,
    "frame_agreement": frame_agreement,
}


def mutate(rng: random.Random, data: bytes) -> bytes:
    """A random edit of ``data``: flip, insert, delete or splice bytes."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        choice = rng.randrange(4)
        position = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[position % len(data)] ^= 1 << rng.randrange(8)
        elif choice == 1:
            data[position:position] = rng.randbytes(rng.randint(1, 16))
        elif choice == 2:
            del data[position : position + rng.randint(1, 16)]
        else:
            data[position:position] = bytes([rng.randrange(256)]) * rng.randint(1, 64)
    return bytes(data)


def fuzz(seconds: float, seed: int, targets: list[str]) -> dict[str, int]:
    """Run ``targets`` on random and mutated inputs for ``seconds``."""
    rng = random.Random(seed)
    counts = dict.fromkeys(targets, 0)
    corpus: dict[str, list[bytes]] = {name: [b""] for name in targets}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name in targets:
            if rng.random() < 0.5:
                data = rng.randbytes(rng.randint(0, 2048))
            else:
                data = mutate(rng, rng.choice(corpus[name]))
            try:
                TARGETS[name](data)
            except BaseException:
                path = Path(f"fuzz-failure-{name}.bin")
                path.write_bytes(data)
                print(f"{name} failed; input saved to {path}", file=sys.stderr)
                raise
            counts[name] += 1
            if len(corpus[name]) < 256:
                corpus[name].append(data)
            else:
                corpus[name][rng.randrange(256)] = data
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--target", choices=sorted(TARGETS), action="append", help="fuzz only this target")
    parser.add_argument("--replay", type=Path, help="run the targets once on this saved input, then stop")
    args = parser.parse_args(argv)
    targets = args.target or sorted(TARGETS)
    if args.replay is not None:
        for name in targets:
            TARGETS[name](args.replay.read_bytes())
        print(f"{args.replay}: no failure")
        return 0
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzzing {', '.join(targets)} for {args.seconds:g} s, seed {seed}")
    counts = fuzz(args.seconds, seed, targets)
    for name, count in counts.items():
        print(f"{name}: {count} inputs, no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
