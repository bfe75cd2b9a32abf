"""Batch structs: many fixed-size records read or written in one call.

Records are numpy structured arrays or ctypes arrays of structs; reads
are all or nothing and copy straight from the receive buffer into the
array, like `read_into`.
"""

import asyncio
import ctypes
import typing

import numpy as np
import pytest

import tcpframe
from conftest import STD_TIMEOUT
from coroutine_steps import count_suspensions, run_without_suspending


class Sample(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("sequence", ctypes.c_uint32), ("timestamp", ctypes.c_double), ("values", ctypes.c_float * 3)]


SAMPLE_DTYPE = np.dtype(
    [("sequence", "<u4"), ("timestamp", "<f8"), ("values", "<f4", (3,))]
)
assert SAMPLE_DTYPE.itemsize == ctypes.sizeof(Sample)


def make_samples(count: int, first: int = 0) -> np.ndarray:
    samples = np.zeros(count, SAMPLE_DTYPE)
    samples["sequence"] = np.arange(first, first + count)
    samples["timestamp"] = samples["sequence"] * 0.25
    samples["values"] = samples["sequence"][:, None] + np.array([0.5, 1.5, 2.5], "f4")
    return samples


def fed_reader(*chunks: bytes, eof: bool = False) -> tcpframe.FrameReader:
    reader = tcpframe.FrameReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


# --- FrameReader ------------------------------------------------------------


async def test_read_many_into_fills_a_numpy_structured_array() -> None:
    sent = make_samples(10)
    reader = fed_reader(sent.tobytes() + b"after")
    records = np.zeros(10, SAMPLE_DTYPE)
    assert run_without_suspending(reader.read_many_into(records)) is None
    np.testing.assert_array_equal(records, sent)
    assert await reader.read(100) == b"after"


async def test_read_many_into_fills_a_ctypes_array_of_structs() -> None:
    sent = make_samples(4)
    reader = fed_reader(sent.tobytes())
    records = (Sample * 4)()
    await reader.read_many_into(records)
    assert [r.sequence for r in records] == [0, 1, 2, 3]
    assert list(records[3].values) == [3.5, 4.5, 5.5]


async def test_read_many_into_with_count_fills_only_the_first_records() -> None:
    reader = fed_reader(make_samples(3).tobytes())
    records = np.full(5, 99, SAMPLE_DTYPE)
    await reader.read_many_into(records, 3)
    np.testing.assert_array_equal(records[:3], make_samples(3))
    assert (records["sequence"][3:] == 99).all()
    await reader.read_many_into(records, 0)  # nothing to read, does not wait


async def test_read_many_into_is_all_or_nothing_and_woken_once() -> None:
    sent = make_samples(64)
    data = sent.tobytes()
    reader = fed_reader(data[:100])
    records = np.zeros(64, SAMPLE_DTYPE)
    suspensions: list = []
    read = asyncio.create_task(count_suspensions(reader.read_many_into(records), suspensions))
    for start in range(100, len(data), 37):
        await asyncio.sleep(0)
        assert (records["sequence"] == 0).all(), "records were written before all had arrived"
        reader.feed_data(data[start : start + 37])
    await asyncio.wait_for(read, STD_TIMEOUT)
    np.testing.assert_array_equal(records, sent)
    assert len(suspensions) == 1


async def test_read_many_into_cut_short_by_eof_raises_with_the_exact_partial_bytes() -> None:
    data = make_samples(2).tobytes()
    reader = fed_reader(data[:30], eof=True)
    records = np.zeros(2, SAMPLE_DTYPE)
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await reader.read_many_into(records)
    assert (caught.value.partial, caught.value.expected) == (data[:30], len(data))
    assert (records["sequence"] == 0).all()


@pytest.mark.parametrize(
    ("records", "count", "error"),
    [
        (Sample(), None, TypeError),  # one struct, not an array
        (np.zeros(4, SAMPLE_DTYPE)[::2], None, ValueError),  # not contiguous
        (np.zeros(4, SAMPLE_DTYPE).copy(), 5, ValueError),  # count too large
        (np.zeros(4, SAMPLE_DTYPE).copy(), -1, ValueError),
        (bytes(16), None, TypeError),  # read-only
        ("text", None, TypeError),  # not a buffer
    ],
    ids=["single-struct", "non-contiguous", "count-too-large", "negative-count", "read-only", "str"],
)
async def test_read_many_into_rejects_what_it_cannot_fill(records: typing.Any, count: int | None, error: type) -> None:
    reader = fed_reader(bytes(1000))
    with pytest.raises(error):
        await reader.read_many_into(records, count)
    assert reader.buffered == 1000


async def test_read_many_into_accepts_a_two_dimensional_array_by_rows() -> None:
    reader = fed_reader(np.arange(12, dtype="<i4").tobytes())
    rows = np.zeros((3, 4), "<i4")
    await reader.read_many_into(rows, 2)
    assert rows.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [0, 0, 0, 0]]


async def test_read_records_returns_a_new_numpy_array_for_a_dtype() -> None:
    sent = make_samples(5)
    reader = fed_reader(sent.tobytes())
    records = await reader.read_records(SAMPLE_DTYPE, 3)
    assert isinstance(records, np.ndarray) and records.dtype == SAMPLE_DTYPE
    np.testing.assert_array_equal(records, sent[:3])
    floats = await reader.read_records("<f4", 1)
    assert floats.dtype == np.dtype("<f4") and floats.shape == (1,)


async def test_read_records_returns_a_ctypes_array_for_a_structure_type() -> None:
    reader = fed_reader(make_samples(2).tobytes())
    records = await reader.read_records(Sample, 2)
    assert isinstance(records, ctypes.Array) and records._type_ is Sample and len(records) == 2
    assert [r.sequence for r in records] == [0, 1]


@pytest.mark.parametrize(
    ("record_type", "count", "error"),
    [
        (SAMPLE_DTYPE, -1, ValueError),
        (object, 2, TypeError),
        (np.dtype([("a", "O")]), 1, TypeError),
        ("V0", 1, ValueError),
    ],
)
async def test_read_records_rejects_bad_record_types_and_counts(
    record_type: typing.Any, count: int, error: type
) -> None:
    reader = fed_reader(bytes(100))
    with pytest.raises(error):
        await reader.read_records(record_type, count)
    assert reader.buffered == 100


# --- Over loopback: writing whole arrays ---------------------------------------


async def test_write_from_and_write_structs_send_whole_arrays(open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair("tcpframe")
    numpy_records = make_samples(100)
    ctypes_records = (Sample * 2)(Sample(7, 1.0), Sample(8, 2.0))
    await tcpframe.write_from(pair.client_writer, numpy_records, ctypes_records)
    received = await asyncio.wait_for(pair.server_reader.read_records(SAMPLE_DTYPE, 102), STD_TIMEOUT)
    np.testing.assert_array_equal(received[:100], numpy_records)
    assert received["sequence"][100:].tolist() == [7, 8]


async def test_write_from_rejects_a_non_contiguous_array(open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair("tcpframe")
    with pytest.raises(ValueError, match="C-contiguous"):
        await tcpframe.write_from(pair.client_writer, make_samples(4)[::2])


# --- Clients and servers --------------------------------------------------------


async def test_client_and_server_move_record_arrays(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    sent = make_samples(1000)
    await server.write_records(sent)
    await server.write_from(sent[:2])
    records = np.zeros(1000, SAMPLE_DTYPE)
    await asyncio.wait_for(client.read_many_into(records), STD_TIMEOUT)
    np.testing.assert_array_equal(records, sent)
    pair = await asyncio.wait_for(client.read_records(Sample, 2), STD_TIMEOUT)
    assert [r.sequence for r in pair] == [0, 1]

    await client.write_records((Sample * 3)(Sample(1), Sample(2), Sample(3)))
    got = await asyncio.wait_for(server.read_records(SAMPLE_DTYPE, 3), STD_TIMEOUT)
    assert got["sequence"].tolist() == [1, 2, 3]


async def test_client_write_records_rejects_a_non_contiguous_array(connect_pair: typing.Callable) -> None:
    _server, client = await connect_pair()
    with pytest.raises(ValueError):
        await client.write_records(make_samples(4)[::2])
    assert client.connected


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.read_many_into(np.zeros(2, SAMPLE_DTYPE)),
        lambda c: c.read_records(Sample, 2),
        lambda c: c.write_records(make_samples(2)),
    ],
    ids=["read_many_into", "read_records", "write_records"],
)
async def test_batch_calls_raise_not_connected_on_a_closed_client(call: typing.Callable, log: typing.Any) -> None:
    client = tcpframe.Client(host="", port=0, log=log)
    with pytest.raises(ConnectionError, match="Not connected"):
        await call(client)


@pytest.mark.parametrize("method", ["read_many_into", "read_records"])
async def test_records_cut_short_when_the_peer_closes_close_the_client_and_call_back(
    connect_pair: typing.Callable, make_recorder: typing.Any, method: str
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(client_kwargs={"connect_callback": recorder.callback})
    assert await recorder.next() is True
    data = make_samples(3).tobytes()
    await server.write(data[:50])
    await server.close_client()
    read = (
        client.read_many_into(np.zeros(3, SAMPLE_DTYPE))
        if method == "read_many_into"
        else client.read_records(Sample, 3)
    )
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await asyncio.wait_for(read, STD_TIMEOUT)
    assert (caught.value.partial, caught.value.expected) == (data[:50], len(data))
    assert await recorder.next() is False
    assert not client.connected


async def test_client_read_many_into_of_buffered_records_does_not_suspend(
    connect_pair: typing.Callable, until: typing.Callable
) -> None:
    server, client = await connect_pair()
    sent = make_samples(50)
    await server.write_records(sent)
    await until(lambda: client.reader.buffered >= sent.nbytes)
    records = np.zeros(50, SAMPLE_DTYPE)
    run_without_suspending(client.read_many_into(records))
    np.testing.assert_array_equal(records, sent)
