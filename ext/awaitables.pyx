"""Compiled awaitables for the reads of tcpframe's clients and servers.

With the compiled kernels, `install` replaces the read methods of
``BaseClientOrServer`` (``read_into``, ``readexactly``, ``readuntil``,
``readline``, ``read_str``, ``read_json``, ``read_frame``,
``read_checksummed``) with compiled functions that return a
`ReadAwaitable` instead of a Python coroutine, and `read_steps` gives the
``iter_*`` iterators of clients, servers and readers (and ``async for``
over a reader) a compiled ``__anext__``.

An awaitable does nothing until it is first sent to (awaited, or run by a
task). Then it takes a buffered message (``read_into`` and ``read_str``
through the host's `ReadPort`, the others through the reader's ``try_``
methods), as the Python method does first, and returns it without
suspending; if nothing is buffered, it creates the Python method's
coroutine (the slow path, with every connection check) and forwards
``send``, ``throw`` and ``close`` to it. It keeps a coroutine's semantics:
registered as a `collections.abc.Coroutine`, an un-awaited one warns, and
awaiting it twice raises `RuntimeError`.

It completes without `StopIteration` where the interpreter lets it:
through its ``am_send`` slot (an ``await`` on CPython 3.11, and a task's
step on every version). On 3.12+ an ``await`` calls ``tp_iternext``
instead; a None result then needs no exception at all, and any other
result is raised in one `StopIteration` that is reused while nobody else
holds it.
"""

cimport cython
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF

from tcpframe._kernels.receive_buffer_compiled cimport SeparatedTakes

import asyncio
import collections.abc
import inspect

from tcpframe.framing import DEFAULT_LENGTH_PREFIX, NMEA
from tcpframe.json_codecs import JSON_WHITESPACE_TERMINATORS, UTF8_NAMES

__all__ = ["ReadAwaitable", "ReadPort", "ReadSteps", "install", "install_reader", "read_steps"]


cdef extern from "Python.h":
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT
    ctypedef PySendResult (*sendfunc)(PyObject *, PyObject *, PyObject **)
    ctypedef PyObject *(*iternextfunc)(PyObject *)
    ctypedef struct PyAsyncMethods:
        sendfunc am_send
    ctypedef struct PyTypeObjectSlots "PyTypeObject":
        PyAsyncMethods *tp_as_async
        iternextfunc tp_iternext
    PySendResult PyIter_Send(object iterator, object arg, PyObject **presult)
    void PyType_Modified(PyTypeObject *type)
    PyObject *PyExc_RuntimeWarning
    int PyErr_WarnFormat(PyObject *category, Py_ssize_t stack_level, const char *format, ...)
    void PyErr_WriteUnraisable(PyObject *obj)


cdef extern from *:
    """
    /* Raise the StopIteration that returns `value` (a new reference, stolen)
       from tp_iternext, and return NULL. On 3.12+ one StopIteration is
       reused while only this module holds it: its value, args, traceback,
       context and cause are reset, as a new one's would be. */
    static PyObject *tcpframe_reused_stop = NULL;

    static PyObject *tcpframe_raise_stop_iteration(PyObject *value) {
        PyObject *args, *exc;
    #if PY_VERSION_HEX >= 0x030C0000
        exc = tcpframe_reused_stop;
        if (exc != NULL && Py_REFCNT(exc) == 1
                && ((PyBaseExceptionObject *)exc)->dict == NULL
                && ((PyBaseExceptionObject *)exc)->notes == NULL) {
            args = PyTuple_New(1);
            if (args == NULL) {
                Py_DECREF(value);
                return NULL;
            }
            PyTuple_SET_ITEM(args, 0, value);
            Py_INCREF(value);
            Py_SETREF(((PyBaseExceptionObject *)exc)->args, args);
            Py_SETREF(((PyStopIterationObject *)exc)->value, value);
            PyException_SetTraceback(exc, Py_None);
            PyException_SetContext(exc, NULL);
            PyException_SetCause(exc, NULL);
            ((PyBaseExceptionObject *)exc)->suppress_context = 0;
            Py_INCREF(exc);
            PyErr_SetRaisedException(exc);
            return NULL;
        }
        exc = PyObject_CallOneArg(PyExc_StopIteration, value);
        Py_DECREF(value);
        if (exc == NULL) {
            return NULL;
        }
        if (tcpframe_reused_stop == NULL || Py_REFCNT(tcpframe_reused_stop) != 1) {
            Py_XSETREF(tcpframe_reused_stop, Py_NewRef(exc));
        }
        PyErr_SetRaisedException(exc);
    #else
        (void)args;
        exc = PyObject_CallOneArg(PyExc_StopIteration, value);
        Py_DECREF(value);
        if (exc == NULL) {
            return NULL;
        }
        PyErr_SetObject(PyExc_StopIteration, exc);
        Py_DECREF(exc);
    #endif
        return NULL;
    }

    /* Return NULL with the current exception set: for Cython code, which
       then propagates it. */
    static PyObject *tcpframe_propagate(void) {
        return NULL;
    }
    """
    PyObject *tcpframe_raise_stop_iteration(PyObject *value)
    object tcpframe_propagate()


# What an awaitable reads: one kind per read method, and per iteration.
cdef enum Kind:
    READ_INTO
    READEXACTLY
    READUNTIL
    READLINE
    READ_STR
    READ_JSON
    READ_FRAME
    READ_CHECKSUMMED
    # Steps of an iteration over a client (read_steps).
    STEP_STRUCT_NEW
    STEP_STRUCT_AGAIN
    STEP_LINE
    STEP_JSON
    STEP_FRAME
    STEP_CHECKSUMMED
    # Steps of an iteration over a FrameReader only (read_steps).
    STEP_UNTIL
    STEP_READLINE

cdef enum State:
    FRESH  # never sent to
    SLOW  # forwarding to the slow path's coroutine
    DONE  # returned, raised or closed

# The Python read methods that `install` replaced, by Kind: the slow paths.
cdef list _slow_paths = [None] * 8

cdef object _NOTHING = object()


@cython.final
cdef class ReadPort:
    """What the compiled reads of a client or server take from: the
    separated takes of its reader's receive buffer, whether the reader
    takes now (its connection is usable and no push is attached), and the
    host's terminator and encoding.

    A `FrameReader` makes one and keeps `usable` current; its host keeps
    `terminator` and `encoding` current. With it, a buffered `read_into`
    or `read_str` (or a struct step of an iteration over a reader) costs
    one attribute lookup and C calls.

    Parameters
    ----------
    takes : `SeparatedTakes`
        The reader's separated takes (their buffer, within its limit).
    """

    cdef SeparatedTakes takes
    cdef public bint usable
    cdef public bytes terminator
    cdef public str encoding

    def __init__(self, SeparatedTakes takes not None):
        self.takes = takes


cdef object _take(Kind kind, object host, object arg, bint on_reader):
    """Take a buffered message for ``kind`` from ``host`` (a client or
    server, or a `FrameReader` if ``on_reader``), or return `_NOTHING`."""
    cdef object reader
    cdef object taken
    cdef ReadPort port
    # The hot kinds through the port: a client's or server's (None before
    # it has a reader, and then there is nothing to take), or a reader's own.
    taken = host._read_port
    if taken is None:
        return _NOTHING
    port = <ReadPort>taken
    if not port.usable:
        return _NOTHING
    if kind == READ_INTO or kind == STEP_STRUCT_AGAIN or kind == STEP_STRUCT_NEW:
        taken = arg() if kind == STEP_STRUCT_NEW else arg
        if not port.takes.buffer.fill(taken):
            return _NOTHING
        return None if kind == READ_INTO else taken
    if kind == READ_STR or kind == STEP_LINE:
        taken = port.takes.buffer.take_line_within(port.terminator, port.takes.limit, port.encoding)
        return _NOTHING if taken is None else taken
    # The other kinds through the reader's try_ methods.
    reader = host if on_reader else host._reader
    if kind == READEXACTLY:
        taken = reader.try_readexactly(arg)
    elif kind == READUNTIL or kind == STEP_UNTIL:
        taken = reader.try_readuntil(arg)
    elif kind == READ_FRAME or kind == STEP_FRAME:
        taken = reader.try_read_frame(arg)
    elif kind == READ_CHECKSUMMED or kind == STEP_CHECKSUMMED:
        taken = reader.try_read_checksummed(arg)
    elif kind == READ_JSON or kind == STEP_JSON:
        return _take_json(host, reader)
    else:  # READLINE, STEP_READLINE
        # At EOF the Python method returns the partial last line (and a
        # client's closes the connection), and a line over the limit is
        # discarded: both on its path.
        if reader.eof_received:
            return _NOTHING
        try:
            taken = reader.try_readuntil(b"\n")
        except asyncio.LimitOverrunError:
            return _NOTHING
    return _NOTHING if taken is None else taken


cdef object _take_json(object host, object reader):
    """``read_json``'s take: the Python method's steps, without awaits."""
    codec = host._json_codec
    decode_utf8 = codec.decode_utf8
    terminator = host._terminator
    encoding = host._encoding
    if decode_utf8 is None or encoding not in UTF8_NAMES or terminator not in JSON_WHITESPACE_TERMINATORS:
        # The Python method awaits host.read_str(): a subclass's, if it
        # overrides it, on the slow path.
        if type(host).read_str is not read_str:
            return _NOTHING
        text = reader.try_read_line(terminator, encoding)
        return _NOTHING if text is None else codec.decode(text)
    line = reader.try_readuntil(terminator)
    if line is None:
        return _NOTHING
    try:
        return decode_utf8(line)
    except ValueError:
        return codec.decode(line[: -len(terminator)].decode())


@cython.final
@cython.freelist(16)
cdef class ReadAwaitable:
    """The awaitable of one read: a coroutine's semantics, compiled.

    Made by the compiled read methods and `ReadSteps`, never directly.
    """

    cdef Kind kind
    cdef State state
    cdef bint awaited
    # Whether host is a FrameReader (else a client or server).
    cdef bint on_reader
    cdef object host
    cdef object arg
    # The Python iterator whose __anext__ is a step's slow path, or None.
    cdef object steps
    # The slow path's coroutine, while forwarding to it.
    cdef object coroutine

    def __cinit__(self) -> None:
        self.state = FRESH

    def __dealloc__(self) -> None:
        if self.state == FRESH:
            if PyErr_WarnFormat(
                PyExc_RuntimeWarning, 1, "coroutine '%U' was never awaited", <PyObject *>self.__qualname__
            ) < 0:
                PyErr_WriteUnraisable(<PyObject *>self)

    @property
    def __name__(self) -> str:
        """The read method's name, as a coroutine's."""
        return self.__qualname__.rpartition(".")[2]

    @property
    def __qualname__(self) -> str:
        """The read method's qualified name, as a coroutine's."""
        if self.kind < STEP_STRUCT_NEW:
            return _slow_paths[self.kind].__qualname__
        return f"{type(self.steps).__qualname__}.__anext__"

    @property
    def cr_await(self) -> object:
        """The slow path's coroutine while this waits on it, else None."""
        return self.coroutine

    @property
    def cr_running(self) -> bool:
        """Always False: this never runs code of its own while suspended."""
        return False

    @property
    def cr_frame(self) -> None:
        """None: a compiled awaitable has no Python frame."""
        return None

    def __repr__(self) -> str:
        return f"<compiled coroutine {self.__qualname__} at {id(self):#x}>"

    def __await__(self) -> ReadAwaitable:
        if self.awaited and self.state == SLOW:
            raise RuntimeError("coroutine is being awaited already")
        self.awaited = True
        return self

    def __next__(self) -> object:
        # The iterator protocol of an await (__await__ returns self); the
        # slot is replaced by _iternext when the module is imported.
        return self.send(None)

    def send(self, value: object) -> object:
        """Send ``value`` in, as `coroutine.send`: return what the read
        yields, or raise `StopIteration` with its result."""
        cdef bint yielded = False
        result = _step(self, value, &yielded)
        if yielded:
            return result
        raise StopIteration(result)

    def throw(self, typ: object, val: object = None, tb: object = None) -> object:
        """Raise an exception in the read, as `coroutine.throw`."""
        if self.state != SLOW:
            self.state = DONE
            if val is None:
                exc = typ() if isinstance(typ, type) else typ
            elif isinstance(val, BaseException):
                exc = val
            else:
                exc = typ(val)
            if tb is not None:
                exc = exc.with_traceback(tb)
            raise exc
        coroutine = self.coroutine
        try:
            if val is None and tb is None:
                result_object = coroutine.throw(typ)
            else:
                result_object = coroutine.throw(typ, val, tb)
        except BaseException:
            self._finish()
            raise
        return result_object

    def close(self) -> None:
        """Close the read, as `coroutine.close`."""
        if self.state == SLOW:
            coroutine = self.coroutine
            self._finish()
            coroutine.close()
        self.state = DONE

    cdef void _finish(self) noexcept:
        self.state = DONE
        self.coroutine = None


cdef object _step(ReadAwaitable self, object value, bint *yielded):
    """Run the read one step with ``value`` sent in; return what it yields
    (``yielded[0]`` set) or returns, or raise what it raises."""
    cdef PyObject *result = NULL
    cdef PySendResult status
    cdef object taken
    if self.state == FRESH:
        if value is not None:
            raise TypeError("can't send non-None value to a just-started coroutine")
        self.state = DONE
        taken = _take(self.kind, self.host, self.arg, self.on_reader)
        if taken is not _NOTHING:
            return taken
        if self.steps is not None:
            self.coroutine = self.steps.__anext__()
        elif self.kind == READ_STR or self.kind == READLINE or self.kind == READ_JSON:
            self.coroutine = _slow_paths[self.kind](self.host)
        else:
            self.coroutine = _slow_paths[self.kind](self.host, self.arg)
        self.state = SLOW
    elif self.state == DONE:
        raise RuntimeError("cannot reuse already awaited coroutine")
    status = PyIter_Send(self.coroutine, value, &result)
    if status == PYGEN_NEXT:
        yielded[0] = True
    else:
        self._finish()
        if status == PYGEN_ERROR:
            return tcpframe_propagate()
    taken = <object>result
    Py_DECREF(taken)
    return taken


ctypedef PyObject *(*_raw_step_t)(PyObject *, PyObject *, bint *) noexcept


cdef PySendResult _am_send(PyObject *self, PyObject *value, PyObject **presult) noexcept:
    cdef bint yielded = False
    result = (<_raw_step_t>_step)(self, value, &yielded)
    presult[0] = result
    if result == NULL:
        return PYGEN_ERROR
    return PYGEN_NEXT if yielded else PYGEN_RETURN


cdef PyObject *_iternext(PyObject *self) noexcept:
    cdef bint yielded = False
    result = (<_raw_step_t>_step)(self, <PyObject *>None, &yielded)
    if result == NULL or yielded:
        return result
    if result == <PyObject *>None:
        # Exhausted with no exception: the caller's StopIteration value is None.
        Py_DECREF(<object>result)
        return NULL
    return tcpframe_raise_stop_iteration(result)


cdef ReadAwaitable _new(Kind kind, object host, object arg, object steps, bint on_reader=False):
    cdef ReadAwaitable awaitable = ReadAwaitable.__new__(ReadAwaitable)
    awaitable.kind = kind
    awaitable.on_reader = on_reader
    awaitable.host = host
    awaitable.arg = arg
    awaitable.steps = steps
    return awaitable


# The compiled read methods. `install` gives each the docstring, name and
# signature (``__wrapped__``) of the Python method it replaces.

def read_into(self, struct):
    return _new(READ_INTO, self, struct, None)


def readexactly(self, n):
    return _new(READEXACTLY, self, n, None)


def readuntil(self, separator=b"\n"):
    return _new(READUNTIL, self, separator, None)


def readline(self):
    return _new(READLINE, self, None, None)


def read_str(self):
    return _new(READ_STR, self, None, None)


def read_json(self):
    return _new(READ_JSON, self, None, None)


def read_frame(self, prefix=DEFAULT_LENGTH_PREFIX):
    return _new(READ_FRAME, self, prefix, None)


def read_checksummed(self, framing=NMEA):
    return _new(READ_CHECKSUMMED, self, framing, None)


# By Kind.
cdef tuple _METHODS = (read_into, readexactly, readuntil, readline, read_str, read_json, read_frame, read_checksummed)


# FrameReader's read methods that an iteration over a reader repeats, and
# the kind of each step (install_reader).
cdef dict _reader_step_kinds = {}


@cython.final
cdef class ReadSteps:
    """Asynchronous iterator over the messages of a client, server or
    reader, with a compiled ``__anext__``: see `read_steps`."""

    cdef Kind kind
    cdef bint on_reader
    cdef object host
    cdef object arg
    cdef object steps

    def __aiter__(self) -> ReadSteps:
        return self

    def __anext__(self) -> ReadAwaitable:
        return _new(self.kind, self.host, self.arg, self.steps, self.on_reader)


def install(cls) -> None:
    """Make the read methods of ``cls`` compiled.

    Parameters
    ----------
    cls : `type`
        ``BaseClientOrServer``: its ``read_into``, ``readexactly``,
        ``readuntil``, ``readline``, ``read_str``, ``read_json``,
        ``read_frame`` and ``read_checksummed`` (coroutine functions) are
        kept as the slow paths and replaced by compiled functions with
        their names, docstrings and signatures, marked as coroutine
        functions for `asyncio.iscoroutinefunction` (and, on 3.12+,
        `inspect.iscoroutinefunction`).
    """
    for kind, function in enumerate(_METHODS):
        python = cls.__dict__[function.__name__]
        _slow_paths[kind] = python
        function.__doc__ = python.__doc__
        function.__qualname__ = python.__qualname__
        function.__module__ = python.__module__
        function.__wrapped__ = python
        function._is_coroutine = asyncio.coroutines._is_coroutine
        if hasattr(inspect, "markcoroutinefunction"):
            inspect.markcoroutinefunction(function)
        setattr(cls, function.__name__, function)


def install_reader(cls) -> None:
    """Let `read_steps` compile the iterations over a reader of ``cls``.

    Parameters
    ----------
    cls : `type`
        ``FrameReader``: iterations that repeat its own ``read_into``,
        ``read_frame``, ``read_checksummed``, ``readuntil`` or
        ``readline`` (not a subclass's override) get a compiled
        ``__anext__``.
    """
    _reader_step_kinds.clear()
    _reader_step_kinds.update({
        cls.__dict__["read_into"]: STEP_STRUCT_AGAIN,
        cls.__dict__["read_frame"]: STEP_FRAME,
        cls.__dict__["read_checksummed"]: STEP_CHECKSUMMED,
        cls.__dict__["readuntil"]: STEP_UNTIL,
        cls.__dict__["readline"]: STEP_READLINE,
    })


def read_steps(steps: object, read: object, arg: object = None) -> object:
    """Return a compiled iterator over ``steps``' messages, or ``steps``.

    Parameters
    ----------
    steps : asynchronous iterator
        The Python iterator, of repeated calls of ``read`` (e.g. a
        `tcpframe.stream.iteration.ReadIterator`): its ``__anext__`` is
        the slow path of each step that finds no message buffered (it
        waits, and applies the end-of-stream rules).
    read : bound method
        A client's or server's ``read_into``, ``read_str``,
        ``read_json``, ``read_frame`` or ``read_checksummed``, or a
        reader's (see `install_reader`) ``read_into``, ``read_frame``,
        ``read_checksummed``, ``readuntil`` or ``readline``.
    arg : `object`, optional
        ``read``'s argument: for ``read_into`` the struct type (a new
        instance per step) or instance (filled again each step), else
        the prefix, framing or separator.

    Returns
    -------
    iterator : `ReadSteps` or ``steps``
        ``steps`` itself if ``read`` is not one of the installed compiled
        methods (e.g. a subclass overrides it).
    """
    cdef ReadSteps iterator
    cdef bint on_reader = False
    function = getattr(read, "__func__", None)
    if function in _reader_step_kinds:
        on_reader = True
        kind = _reader_step_kinds[function]
        if kind == STEP_STRUCT_AGAIN and isinstance(arg, type):
            kind = STEP_STRUCT_NEW
    elif function is read_into:
        kind = STEP_STRUCT_NEW if isinstance(arg, type) else STEP_STRUCT_AGAIN
    elif function is read_str:
        kind = STEP_LINE
    elif function is read_json:
        kind = STEP_JSON
    elif function is read_frame:
        kind = STEP_FRAME
    elif function is read_checksummed:
        kind = STEP_CHECKSUMMED
    else:
        return steps
    iterator = ReadSteps.__new__(ReadSteps)
    iterator.kind = kind
    iterator.on_reader = on_reader
    iterator.host = read.__self__
    iterator.arg = arg
    iterator.steps = steps
    return iterator


collections.abc.Coroutine.register(ReadAwaitable)

# The slots Cython has no special methods for: am_send (an await on 3.11,
# a task's step everywhere), and a tp_iternext that returns without an
# exception where it can.
(<PyTypeObjectSlots *>ReadAwaitable).tp_as_async.am_send = _am_send
(<PyTypeObjectSlots *>ReadAwaitable).tp_iternext = _iternext
PyType_Modified(<PyTypeObject *>ReadAwaitable)
