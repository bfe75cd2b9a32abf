"""Drive a coroutine step by step, to check when a read yields to the loop."""

import types
import typing


def run_without_suspending(coro: typing.Coroutine) -> typing.Any:
    """Run ``coro`` to completion in one step; fail if it would suspend."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError(f"{coro.__qualname__} suspended, i.e. yielded to the event loop")


@types.coroutine
def _relay_suspensions(coro: typing.Coroutine, suspensions: list) -> typing.Generator:
    to_send: typing.Any = None
    to_throw: BaseException | None = None
    while True:
        try:
            yielded = coro.throw(to_throw) if to_throw is not None else coro.send(to_send)
        except StopIteration as stop:
            return stop.value
        suspensions.append(yielded)
        try:
            to_send, to_throw = (yield yielded), None
        except BaseException as e:
            to_send, to_throw = None, e


async def count_suspensions(coro: typing.Coroutine, suspensions: list) -> typing.Any:
    """Await ``coro``, appending to ``suspensions`` each time it suspends.

    A native coroutine, so that it can be given to `asyncio.create_task`
    (which takes no generator-based coroutine from Python 3.12 on).
    """
    return await _relay_suspensions(coro, suspensions)
