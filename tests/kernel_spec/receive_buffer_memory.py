"""The receive buffer's spec, part two: how bytes come in (``get_buffer``,
``buffer_updated``, as a transport delivers them) and the memory rule of
`tcpframe.receive_sizes` (``receive_size``, ``allocated``)."""

from __future__ import annotations

import pytest

from tcpframe._kernels import Kernels
from tcpframe.receive_sizes import MAX_RECEIVE_SIZE, MIN_RECEIVE_SIZE

from .streams import deliver, receive


class ReceiveBufferMemorySpec:
    """How a receive buffer takes in bytes and holds memory, on every implementation."""

    kernels: Kernels

    # receive_buffer: the memory rule of tcpframe.receive_sizes

    def test_a_new_buffer_is_empty_and_holds_no_memory(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer()
        assert len(buffer) == 0
        assert buffer.take() == b""
        assert buffer.find(b"\n") == -1
        assert buffer.allocated == 0
        assert buffer.receive_size == MIN_RECEIVE_SIZE

    @pytest.mark.parametrize("sizes", [(0, 8), (-1, 8), (8, 7)])
    def test_receive_sizes_must_be_positive_and_ordered(self, sizes: tuple[int, int]) -> None:
        with pytest.raises(ValueError, match="min_receive_size"):
            self.kernels.receive_buffer.ReceiveBuffer(*sizes)

    def test_a_lightly_used_buffer_holds_kilobytes_and_nothing_once_read(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer()
        assert receive(buffer, 300) == MIN_RECEIVE_SIZE
        assert buffer.allocated <= 2 * MIN_RECEIVE_SIZE
        buffer.get_buffer().release()  # the receive that finds the peer's EOF
        assert buffer.allocated <= 2 * (MIN_RECEIVE_SIZE + 300)
        assert buffer.take() == bytes(300)
        assert buffer.allocated == 0
        assert buffer.receive_size == MIN_RECEIVE_SIZE

    def test_receives_double_while_they_fill_their_offer_up_to_the_maximum(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer()
        offers = []
        for _ in range(8):
            offers.append(receive(buffer, buffer.receive_size))
            buffer.clear()
            assert 0 < buffer.allocated <= 2 * MAX_RECEIVE_SIZE  # kept while data flows fast
        assert offers == [MIN_RECEIVE_SIZE << i for i in range(7)] + [MAX_RECEIVE_SIZE]

    def test_receive_size_halves_after_a_receive_of_at_most_half_its_offer(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16, 64)
        for nbytes, size in [(16, 32), (32, 64), (64, 64), (33, 64), (32, 32), (1, 16), (1, 16)]:
            receive(buffer, nbytes)
            assert buffer.receive_size == size

    @pytest.mark.parametrize("unread", [0, 1, 16])
    def test_memory_is_given_back_when_receives_stop_filling(self, unread: int) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16, 64)
        for _ in range(4):
            receive(buffer, buffer.receive_size)
        receive(buffer, 10)  # the socket had no more
        assert buffer.receive_size == 32
        buffer.skip(len(buffer) - unread)
        assert buffer.allocated <= (2 * 16 if unread else 0)
        assert buffer.take() == bytes(unread)
        assert buffer.allocated == 0

    @pytest.mark.parametrize("through_get_buffer", [True, False])
    def test_memory_is_given_back_after_one_large_message(self, through_get_buffer: bool) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer()
        message = 4 * MAX_RECEIVE_SIZE + 5
        if through_get_buffer:
            while len(buffer) < message:
                receive(buffer, buffer.receive_size)  # each fills its offer
        else:
            buffer.feed(bytes(message))
        assert buffer.allocated >= message
        assert buffer.take_exactly(len(buffer) - 5) is not None
        assert buffer.allocated <= MIN_RECEIVE_SIZE
        buffer.skip(5)
        assert buffer.allocated == 0

    def test_a_view_kept_past_a_release_does_not_write_into_the_buffer(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        view = buffer.get_buffer()
        view[:3] = b"abc"
        buffer.buffer_updated(3)
        assert buffer.take() == b"abc"  # releases: the receive did not fill its offer
        view[:3] = b"xyz"
        view.release()
        assert len(buffer) == 0
        buffer.feed(b"def")
        assert buffer.take() == b"def"

    # receive_buffer: the transport's way in (get_buffer, buffer_updated)

    @pytest.mark.parametrize("sizehint", [-1, 0, 5, 8, 100, 5000])
    def test_get_buffer_offers_a_writable_memoryview_of_exactly_the_wanted_size(self, sizehint: int) -> None:
        # Whatever is free: one receive can then add at most
        # max(sizehint, receive_size) bytes, which bounds the bytes buffered
        # past the reader's high-water mark.
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        buffer.feed(b"x" * 10_000)
        buffer.take(9_990)
        for _ in range(3):
            view = buffer.get_buffer(sizehint)
            assert isinstance(view, memoryview)
            assert not view.readonly
            assert len(view) == max(sizehint, 8)
            view.release()
        buffer.buffer_updated(0)
        assert buffer.take() == b"x" * 10

    @pytest.mark.parametrize("excess", [1, 1000, None])
    def test_buffer_updated_outside_the_offer_is_refused_by_value(self, excess: int | None) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        with buffer.get_buffer() as view:
            nbytes = -1 if excess is None else len(view) + excess
        with pytest.raises(ValueError, match=f"nbytes={nbytes} is outside the offered buffer"):
            buffer.buffer_updated(nbytes)
        assert len(buffer) == 0

    def test_buffer_updated_needs_a_fresh_get_buffer(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        with pytest.raises(ValueError, match="outside the offered buffer"):
            buffer.buffer_updated(1)
        deliver(buffer, b"ab", through_get_buffer=True)
        with pytest.raises(ValueError, match="outside the offered buffer"):
            buffer.buffer_updated(1)
        buffer.get_buffer()
        buffer.feed(b"cd")
        with pytest.raises(ValueError, match="outside the offered buffer"):
            buffer.buffer_updated(1)
        assert buffer.take() == b"abcd"

    def test_one_receive_of_a_large_sizehint_holds_a_whole_message(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        buffer.feed(b"head")
        message = bytes(range(256)) * 4096
        deliver(buffer, message, through_get_buffer=True)  # sizehint = len(message)
        assert len(buffer) == 4 + len(message)
        assert buffer.take(4) == b"head"
        assert buffer.take_exactly(len(message)) == message

    def test_a_view_held_while_the_next_is_asked_for_is_left_alone_and_nothing_is_lost(self) -> None:
        # asyncio's TLS layer commits bytes received into one view and, while
        # still holding it (at the peer's close_notify), asks for the next.
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        first = buffer.get_buffer()
        first[:8] = b"ABCDEFGH"
        buffer.buffer_updated(8)
        nested = buffer.get_buffer(100)  # must grow while `first` is alive
        assert len(nested) == 100
        nested[:100] = bytes(range(100))
        buffer.buffer_updated(100)
        buffer.feed(b"z" * 1000)  # grows again, both views still alive
        third = buffer.get_buffer()
        third[:3] = b"end"
        buffer.buffer_updated(3)
        first.release()
        nested.release()
        third.release()
        assert buffer.take() == b"ABCDEFGH" + bytes(range(100)) + b"z" * 1000 + b"end"
        with buffer.get_buffer(5000) as view:
            view[:5] = b"after"
        buffer.buffer_updated(5)
        assert buffer.take() == b"after"
