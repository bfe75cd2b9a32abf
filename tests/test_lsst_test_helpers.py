"""lsst.ts.tcpip 2.2's test helpers and public attributes, used as users do.

Users subclass `tcpframe.BaseOneClientServerTestCase` in their own
unittest suites, so these tests are written the same way: a spec class
(`HelpersSpec`) that runs once per event loop, as `TestHelpersOnAsyncio`
and, when uvloop is installed, `TestHelpersOnUvloop`.
"""

import asyncio
import logging
import typing

import tcpframe
from tcpframe.tcpip import testing

try:
    import uvloop
except ImportError:  # uvloop is optional
    uvloop = None


def test_the_helpers_are_also_reachable_by_lsst_ts_tcpips_module_names() -> None:
    assert tcpframe.base_one_client_server_test_case.BaseOneClientServerTestCase is tcpframe.BaseOneClientServerTestCase
    assert tcpframe.base_one_client_server_test_case.STD_TIMEOUT == 2
    assert tcpframe.testone_client_read_loop_server.TestOneClientReadLoopServer is tcpframe.TestOneClientReadLoopServer


class KwargsRecordingServer(tcpframe.OneClientServer):
    """A `OneClientServer` subclass that records the arguments it is given."""

    received_kwargs: typing.ClassVar[dict[str, typing.Any]] = {}

    def __init__(self, host: str | None = tcpframe.LOCALHOST_IPV4, **kwargs: typing.Any) -> None:
        type(self).received_kwargs = dict(kwargs)
        super().__init__(host=host, **kwargs)


class HelpersSpec(tcpframe.BaseOneClientServerTestCase):
    """The helpers' behaviour; subclasses choose the event loop."""

    __test__ = False  # run through the per-loop subclasses only

    server_class = tcpframe.OneClientServer

    async def asyncSetUp(self) -> None:
        # Users override asyncSetUp without calling super(): log and
        # connect_queue must already exist, made by run().
        self.log_in_set_up = self.log
        self.connect_queue_in_set_up = self.connect_queue

    def test_std_timeout_is_two_seconds(self) -> None:
        self.assertEqual(testing.STD_TIMEOUT, 2)

    async def test_log_and_an_empty_connect_queue_exist_before_asyncSetUp(self) -> None:
        self.assertIsInstance(self.log_in_set_up, logging.Logger)
        self.assertEqual(self.log_in_set_up.name, type(self).__name__)
        self.assertIsNone(self.connect_queue_in_set_up)

    async def test_callback_and_assert_next_connected_raise_before_create_server(self) -> None:
        with self.assertRaises(RuntimeError):
            await self.assert_next_connected(True)
        client = tcpframe.Client(host="", port=0, log=self.log)
        with self.assertRaises(RuntimeError):
            await self.connect_callback(client)

    async def test_create_server_never_wires_the_connect_callback(self) -> None:
        async with self.create_server() as server:
            self.assertIsNotNone(self.connect_queue)
            async with self.create_client(server):
                with self.assertRaises(TimeoutError):
                    await self.assert_next_connected(True, timeout=0.2)
            self.assertTrue(self.connect_queue.empty())

    async def test_callbacks_from_the_server_are_queued_when_passed_to_the_server(self) -> None:
        async with self.create_server(connect_callback=self.connect_callback) as server:
            async with self.create_client(server) as client:
                await self.assert_next_connected(True)
                await client.close()
                await self.assert_next_connected(False)

    async def test_callbacks_from_the_client_see_basic_close_and_close(self) -> None:
        async with self.create_server() as server:
            async with self.create_client(server, connect_callback=self.connect_callback) as client:
                await self.assert_next_connected(True)
                await client.basic_close()
                await self.assert_next_connected(False)
                self.assertTrue(client.should_be_connected)
                await client.close()
                self.assertFalse(client.should_be_connected)
            with self.assertRaises(TimeoutError):
                await self.assert_next_connected(False, timeout=0.2)

    async def test_the_client_callback_sees_the_server_drop_the_connection(self) -> None:
        async with self.create_server() as server:
            async with self.create_client(
                server, connect_callback=self.connect_callback, monitor_connection_interval=0.01
            ) as client:
                await self.assert_next_connected(True)
                await server.close_client()
                await self.assert_next_connected(False)
                self.assertFalse(client.connected)

    async def test_the_server_callback_sees_the_client_drop_the_connection(self) -> None:
        server_context = self.create_server(connect_callback=self.connect_callback, monitor_connection_interval=0.01)
        async with server_context as server:
            async with self.create_client(server) as client:
                await self.assert_next_connected(True)
                await client.basic_close()
                await self.assert_next_connected(False)
                self.assertFalse(server.connected)

    async def test_create_server_clears_the_queue(self) -> None:
        async with self.create_server(connect_callback=self.connect_callback) as server:
            async with self.create_client(server):
                await asyncio.wait_for(server.connected_task, testing.STD_TIMEOUT)
        self.assertFalse(self.connect_queue.empty())  # True and False, never read
        async with self.create_server(connect_callback=self.connect_callback):
            self.assertTrue(self.connect_queue.empty())

    async def test_create_server_passes_only_port_log_and_the_callers_kwargs(self) -> None:
        self.server_class = KwargsRecordingServer
        async with self.create_server(name="telemetry") as server:
            self.assertEqual(set(KwargsRecordingServer.received_kwargs), {"port", "log", "name"})
            self.assertEqual(KwargsRecordingServer.received_kwargs["port"], 0)
            self.assertIs(KwargsRecordingServer.received_kwargs["log"], self.log)
            self.assertNotEqual(server.port, 0)

    async def test_create_server_gives_a_plain_one_client_server_a_localhost_host(self) -> None:
        async with self.create_server() as server:
            self.assertEqual(server.host, tcpframe.DEFAULT_LOCALHOST)
        async with self.create_server(host=tcpframe.LOCALHOST_IPV4, name="explicit") as server:
            self.assertEqual(server.host, tcpframe.LOCALHOST_IPV4)

    async def test_create_server_without_a_server_class_raises(self) -> None:
        self.server_class = None
        with self.assertRaises(RuntimeError):
            async with self.create_server():
                pass

    async def test_create_client_waits_for_the_server_to_see_it_unless_told_not_to(self) -> None:
        async with self.create_server() as server:
            async with self.create_client(server) as client:
                self.assertTrue(server.connected_task.done())
                self.assertTrue(client.connected)
        async with self.create_server() as server:
            async with self.create_client(server, wait_connected=False) as client:
                self.assertTrue(client.start_task.done())
                await asyncio.wait_for(server.connected_task, testing.STD_TIMEOUT)
        self.assertTrue(client.done_task.done())

    async def test_client_heartbeat_send_task_is_public_and_done_when_not_sending(self) -> None:
        async with self.create_server() as server, self.create_client(server) as quiet_client:
            self.assertTrue(quiet_client.heartbeat_send_task.done())
        async with (
            self.create_server() as server,
            self.create_client(server, run_heartbeat_send_task=True, heartbeat_send_sleep=0.01) as client,
        ):
            self.assertFalse(client.heartbeat_send_task.done())
        self.assertTrue(client.heartbeat_send_task.done())

    async def test_child_loggers_are_named_for_class_and_name(self) -> None:
        async with self.create_server(name="srv") as server:
            self.assertEqual(server.log.name, f"{self.log.name}.OneClientServer(srv)")
        commands = tcpframe.Client(host="", port=None, log=self.log, name="commands")
        telemetry = tcpframe.Client(host="", port=None, log=self.log, name="telemetry")
        self.assertEqual(commands.log.name, f"{self.log.name}.Client(commands)")
        self.assertEqual(telemetry.log.name, f"{self.log.name}.Client(telemetry)")
        with self.assertLogs(self.log, logging.INFO) as logged:
            commands.log.info("from commands")
            telemetry.log.info("from telemetry")
        self.assertEqual([record.name for record in logged.records], [commands.log.name, telemetry.log.name])


class ReadLoopHelpersSpec(tcpframe.BaseOneClientServerTestCase):
    """`TestOneClientReadLoopServer` and the read-loop server's public tasks."""

    __test__ = False

    server_class = tcpframe.TestOneClientReadLoopServer

    async def test_strings_are_queued_and_a_failed_read_closes_the_client(self) -> None:
        async with (
            self.create_server(connect_callback=self.connect_callback) as server,
            self.create_client(server) as client,
        ):
            await self.assert_next_connected(True)
            for text in ["first", "second"]:
                await client.write_str(text)
                self.assertEqual(await server.get_next_data(timeout=testing.STD_TIMEOUT), text)
            server.fail_next_read = True
            await client.write_str("not read")
            await self.assert_next_connected(False)
            self.assertFalse(server.connected)
            self.assertTrue(server.read_loop_task.done())

    async def test_read_loop_task_runs_while_a_client_is_connected(self) -> None:
        async with self.create_server(connect_callback=self.connect_callback) as server:
            self.assertTrue(server.read_loop_task.done())
            self.assertIsNone(server.heartbeat_received_tai)
            self.assertIsNone(server.monitor_heartbeats_task_start)
            async with self.create_client(server):
                await self.assert_next_connected(True)
                self.assertFalse(server.read_loop_task.done())
                self.assertTrue(server.monitor_heartbeats_task.done())  # not monitoring
            await self.assert_next_connected(False)
            await asyncio.wait_for(server.read_loop_task, testing.STD_TIMEOUT)

    async def test_heartbeats_are_timestamped_in_tai_and_keep_the_client(self) -> None:
        async with (
            self.create_server(run_heartbeat_monitor_task=True, max_heartbeat_interval=0.5) as server,
            self.create_client(server, run_heartbeat_send_task=True, heartbeat_send_sleep=0.02),
        ):
            while server.heartbeat_received_tai is None:
                await asyncio.sleep(0.01)
            self.assertFalse(server.monitor_heartbeats_task.done())
            first = server.heartbeat_received_tai
            self.assertAlmostEqual(first, tcpframe.utils.current_tai(), delta=1)
            self.assertAlmostEqual(server.monitor_heartbeats_task_start, first, delta=1)
            await asyncio.sleep(0.1)
            self.assertGreater(server.heartbeat_received_tai, first)
            self.assertTrue(server.connected)
            self.assertEqual(server.data_queue.qsize(), 0)  # heartbeats are not data

    async def test_a_client_without_heartbeats_is_closed_by_the_monitor(self) -> None:
        async with (
            self.create_server(
                connect_callback=self.connect_callback, run_heartbeat_monitor_task=True, max_heartbeat_interval=0.1
            ) as server,
            self.create_client(server),
        ):
            await self.assert_next_connected(True)
            await self.assert_next_connected(False)
            self.assertIsNone(server.heartbeat_received_tai)
            await asyncio.wait_for(server.monitor_heartbeats_task, testing.STD_TIMEOUT)
            self.assertTrue(server.read_loop_task.done())

    async def test_an_unexpected_heartbeat_ends_the_read_loop(self) -> None:
        async with (
            self.create_server(connect_callback=self.connect_callback) as server,
            self.create_client(server, run_heartbeat_send_task=True, heartbeat_send_sleep=0.01),
        ):
            await self.assert_next_connected(True)
            await self.assert_next_connected(False)
            self.assertTrue(server.read_loop_task.done())
            self.assertFalse(server.connected)


def _per_loop(spec: type, loop_name: str) -> type:
    """Return a concrete test case that runs ``spec`` on the named loop."""

    class OnLoop(spec):  # type: ignore[misc, valid-type]
        __test__ = True

        @classmethod
        def setUpClass(cls) -> None:
            super().setUpClass()
            cls._saved_policy = asyncio.get_event_loop_policy()
            if loop_name == "uvloop":
                asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

        @classmethod
        def tearDownClass(cls) -> None:
            asyncio.set_event_loop_policy(cls._saved_policy)
            super().tearDownClass()

        async def asyncSetUp(self) -> None:
            await super().asyncSetUp()
            loop = asyncio.get_running_loop()
            expected = uvloop.Loop if loop_name == "uvloop" else asyncio.BaseEventLoop
            assert isinstance(loop, expected), f"running on {type(loop)}, not {loop_name}"

    OnLoop.__name__ = OnLoop.__qualname__ = f"{spec.__name__.removesuffix('Spec')}On{loop_name.capitalize()}"
    return OnLoop


TestHelpersOnAsyncio = _per_loop(HelpersSpec, "asyncio")
TestReadLoopHelpersOnAsyncio = _per_loop(ReadLoopHelpersSpec, "asyncio")
if uvloop is not None:
    TestHelpersOnUvloop = _per_loop(HelpersSpec, "uvloop")
    TestReadLoopHelpersOnUvloop = _per_loop(ReadLoopHelpersSpec, "uvloop")
