"""The lsst.ts.tcpip layer: clients and servers on the stream layer.

`BaseClientOrServer` (``base_client_or_server``) gives lsst.ts.tcpip's
read and write methods, each delegated to the connection's
`~tcpframe.FrameReader` or `~tcpframe.FrameWriter`;
`Client` (``client``), `OneClientServer` (``one_client_server``) and
`OneClientReadLoopServer` (``one_client_read_loop_server``) connect and
accept; ``utils`` has lsst.ts.tcpip's module functions and ``testing`` its
test helpers.
"""
