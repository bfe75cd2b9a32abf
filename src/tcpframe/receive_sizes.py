"""The receive buffer's memory rule, shared by the compiled buffer and its twin.

Both implementations of ``ReceiveBuffer`` (``ext/receive_buffer.pyx`` and
``tcpframe._kernels.receive_buffer_pure``) take their defaults from here and follow
this rule; ``tests/kernel_spec/`` checks it against both. This module
imports nothing of tcpframe.

The rule
--------
A buffer has a *receive size*: what `get_buffer` offers after the unread
bytes (a larger ``sizehint`` is honoured for that one offer). It starts at
the buffer's ``min_receive_size`` (default `MIN_RECEIVE_SIZE`).

1. **Nothing at first.** A new buffer holds no memory; the first receive
   allocates room for one receive.
2. **Grow while data flows fast.** A receive that fills its offer (the
   socket had more) doubles the receive size, up to ``max_receive_size``
   (default `MAX_RECEIVE_SIZE`).
3. **Settle when it slows.** A receive that gets at most half its offer
   halves the receive size, down to ``min_receive_size``.
4. **Give it back when it stops.** A large allocation is released as soon
   as a take leaves at most ``min_receive_size`` bytes unread, if the last
   receive did not fill its offer (the buffer caught up with the socket:
   data stopped flowing fast), or if more than ``max_receive_size`` bytes
   were unread since the last release (one large message). With
   nothing unread the buffer then holds no memory; otherwise (compiled
   buffer) one block of ``min_receive_size`` bytes holds them, until the
   take that empties the buffer frees it.

So a connection holds no receive memory while idle with nothing unread,
and at most ``2 * (unread + min_receive_size)`` with a few bytes unread
(the next offer comes after them); while streaming, at most
``2 * (unread + max_receive_size)``, where the reader stops receiving
above its high-water mark; and after one large message, nothing again
once it is taken. The twin receives into a scratch area of the offered
size and keeps the unread bytes in a `bytearray` that CPython sizes, so
its ``allocated`` figure differs in detail but keeps within the same
bounds, and its receive sizes are the same.
"""

__all__ = ["MAX_RECEIVE_SIZE", "MIN_RECEIVE_SIZE"]

# What a lightly used connection receives into: messages up to this size
# arrive in one receive.
MIN_RECEIVE_SIZE = 2**12

# The most one receive asks for while data flows fast: one event-loop turn
# then brings many small messages.
MAX_RECEIVE_SIZE = 2**18
