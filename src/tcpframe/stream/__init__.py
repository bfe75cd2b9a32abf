"""The stream layer: asyncio's protocol callbacks to framed reads and writes.

`FrameProtocol` (``protocol``) is the asyncio `~asyncio.BufferedProtocol`
of one connection: it hands the transport the free space of the receive
buffer and reports the transport's events to the connection's
`ConnectionState` (``connection``). `FrameReader` (``reader``) answers
each read from the receive buffer's kernels, waiting when the bytes have
not arrived; `FrameWriter` (``writer``) sends, with flow control.
``records`` makes the numpy record arrays of the batch reads (numpy is
imported when one is first made); ``iteration`` drives ``async for``;
``push`` calls a callback with each message as it is received (`Push`).
This layer knows nothing of lsst.ts.tcpip (`tcpframe.tcpip`).
"""
