"""ChillerClient and MockChiller (tcpframe.examples), end to end over loopback."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from tcpframe.examples import ChecksumError, ChillerClient, MockChiller
from tcpframe.examples.mock_chiller import ReplyStatus

# The systems must work on uvloop too, when it is installed.
pytestmark = pytest.mark.all_event_loops

DEVICE_ID = "01"

log = logging.getLogger("test_examples_chiller")


def sum8_hex(text: str) -> str:
    """The checksum, computed independently of tcpframe."""
    return f"{sum(ord(char) for char in text) & 0xFF:02x}"


@pytest.fixture
async def mock_chiller() -> AsyncIterator[MockChiller]:
    chiller = MockChiller(log=log, device_id=DEVICE_ID)
    try:
        await asyncio.wait_for(chiller.start_task, STD_TIMEOUT)
        yield chiller
    finally:
        await chiller.close()


@contextlib.asynccontextmanager
async def connected_client(chiller: MockChiller) -> AsyncIterator[ChillerClient]:
    client = ChillerClient(device_id=DEVICE_ID, host=tcpframe.LOCALHOST_IPV4, port=chiller.port, log=log)
    try:
        await asyncio.wait_for(client.start_task, STD_TIMEOUT)
        await asyncio.wait_for(chiller.connected_task, STD_TIMEOUT)
        yield client
    finally:
        await client.close()


@pytest.fixture
async def unconnected_client() -> AsyncIterator[ChillerClient]:
    # host="" makes a client that never connects: enough to format commands.
    client = ChillerClient(device_id=DEVICE_ID, host="", port=0, log=log)
    yield client
    await client.close()


def test_compute_checksum_known_values() -> None:
    # '.'=46 '0'=48 '1'=49 'a'=97 'b'=98 'c'=99: 437 & 0xFF = 181 = 0xb5
    assert ChillerClient.compute_checksum(".01abc") == "b5"
    # 46+48+49+48+49+87+97+116+99+104+68+111+103 = 1025 & 0xFF = 1
    assert ChillerClient.compute_checksum(".0101WatchDog") == "01"
    # 5 * 126 = 630 & 0xFF = 118 = 0x76
    assert ChillerClient.compute_checksum("~~~~~") == "76"
    assert ChillerClient.compute_checksum("") == "00"
    for text in ("\x7f\x7f\x7f", ".01" + "Z" * 18, "0123456789abcdef"):
        assert ChillerClient.compute_checksum(text) == sum8_hex(text)


def test_compute_checksum_is_always_two_lowercase_digits() -> None:
    for value in range(256):
        text = "\x7f" * (value // 127) + chr(value % 127)  # ASCII, sums to value
        checksum = ChillerClient.compute_checksum(text)
        assert checksum == f"{value:02x}"
        assert len(checksum) == 2 and checksum == checksum.lower()


def test_compute_checksum_rejects_non_ascii() -> None:
    with pytest.raises(UnicodeEncodeError):
        ChillerClient.compute_checksum(".01Temp\u00b0C")


async def test_format_full_command(unconnected_client: ChillerClient) -> None:
    assert unconnected_client.format_full_command("01WatchDog") == ".0101WatchDog01\r"
    for cmd in ("03ReadTemp", "03ReadTemp+0123456", "17SetPoint+2000"):
        framed = f".{DEVICE_ID}{cmd}"
        assert unconnected_client.format_full_command(cmd) == f"{framed}{sum8_hex(framed)}\r"


async def test_format_full_command_rejects_bad_length(unconnected_client: ChillerClient) -> None:
    for cmd in ("", "01WatchDo", "01WatchDog123456789"):
        with pytest.raises(ValueError, match="10 to 18"):
            unconnected_client.format_full_command(cmd)
    # The limits themselves are allowed.
    unconnected_client.format_full_command("x" * 10)
    unconnected_client.format_full_command("x" * 18)


async def test_format_full_command_rejects_non_ascii_and_non_str(unconnected_client: ChillerClient) -> None:
    with pytest.raises(UnicodeEncodeError):
        unconnected_client.format_full_command("17SetPoint\u00b0C")
    with pytest.raises(TypeError):
        unconnected_client.format_full_command(b"01WatchDog")  # type: ignore[arg-type]


async def test_device_id_must_be_ascii_str() -> None:
    for device_id in ("", "\u00e901", 1):
        with pytest.raises(ValueError):
            ChillerClient(device_id=device_id, host="", port=0, log=log)  # type: ignore[arg-type]


async def test_run_command_returns_reply_without_checksum(mock_chiller: MockChiller) -> None:
    async with connected_client(mock_chiller) as client:
        reply = await asyncio.wait_for(client.run_command("01WatchDog"), STD_TIMEOUT)
        assert reply == f"#{DEVICE_ID}{ReplyStatus.OK.value}01WatchDog"
        reply = await asyncio.wait_for(client.run_command("17SetPoint+2000"), STD_TIMEOUT)
        assert reply == f"#{DEVICE_ID}017SetPoint+2000"
    assert mock_chiller.commands == [".0101WatchDog01", ".0117SetPoint+2000" + sum8_hex(".0117SetPoint+2000")]


async def test_run_command_accepts_uppercase_reply_checksum(mock_chiller: MockChiller) -> None:
    mock_chiller.uppercase_checksums = True
    cmds = ["03ReadTemp", "04ReadTemp", "05ReadTemp", "06ReadTemp"]
    # Some of these replies have checksums with digits a-f.
    assert any(not sum8_hex(f"#{DEVICE_ID}0{cmd}").isdigit() for cmd in cmds)
    async with connected_client(mock_chiller) as client:
        for cmd in cmds:
            reply = await asyncio.wait_for(client.run_command(cmd), STD_TIMEOUT)
            assert reply == f"#{DEVICE_ID}0{cmd}"


async def test_corrupted_reply_raises_checksum_error_naming_both_values(mock_chiller: MockChiller) -> None:
    async with connected_client(mock_chiller) as client:
        mock_chiller.corrupt_next_reply = True
        with pytest.raises(ChecksumError) as exc_info:
            await asyncio.wait_for(client.run_command("01WatchDog"), STD_TIMEOUT)
        body = f"#{DEVICE_ID}001WatchDog"
        expected = int(sum8_hex(body), 16)
        received = (expected + 1) & 0xFF
        error = exc_info.value
        assert ChecksumError is tcpframe.ChecksumMismatchError
        assert isinstance(error, ValueError)
        assert (error.checksum, error.expected, error.received) == ("sum8", expected, received)
        assert error.frame == f"{body}{received:02x}\r".encode()
        assert f"0x{expected:02X}" in str(error) and f"0x{received:02X}" in str(error)
        # The bad reply was consumed: the next command gets its own reply.
        reply = await asyncio.wait_for(client.run_command("02WatchDog"), STD_TIMEOUT)
        assert reply == f"#{DEVICE_ID}002WatchDog"


async def test_concurrent_run_commands_each_get_their_own_reply(mock_chiller: MockChiller) -> None:
    mock_chiller.reply_delay = 0.005  # let the callers pile up on the lock
    cmds = [f"05ReadData{index:08d}" for index in range(20)]
    async with connected_client(mock_chiller) as client:
        replies = await asyncio.wait_for(
            asyncio.gather(*(client.run_command(cmd) for cmd in cmds)), STD_TIMEOUT
        )
    assert replies == [f"#{DEVICE_ID}0{cmd}" for cmd in cmds]
    # Each command went out whole and alone, in the order called.
    assert mock_chiller.commands == [client.format_full_command(cmd)[:-1] for cmd in cmds]


async def test_run_command_cancelled_while_waiting_closes_connection(mock_chiller: MockChiller) -> None:
    mock_chiller.reply_delay = 1.0
    async with connected_client(mock_chiller) as client:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.run_command("01WatchDog"), 0.1)
        # A late reply must not be taken for the next command's.
        assert not client.connected
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(client.run_command("02WatchDog"), STD_TIMEOUT)


async def test_run_command_when_not_connected_raises(unconnected_client: ChillerClient) -> None:
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(unconnected_client.run_command("01WatchDog"), STD_TIMEOUT)


async def test_mock_chiller_flags_bad_commands(mock_chiller: MockChiller) -> None:
    """A raw client sends what ChillerClient never would."""
    client = tcpframe.Client(
        host=tcpframe.LOCALHOST_IPV4, port=mock_chiller.port, log=log, terminator=b"\r", encoding="ascii"
    )
    async with client:
        await asyncio.wait_for(mock_chiller.connected_task, STD_TIMEOUT)
        cases = [
            (".0101WatchDog02\r", ReplyStatus.BAD_CHECKSUM),  # checksum off by one
            (".0101WatchDogzz\r", ReplyStatus.BAD_CHECKSUM),  # not hex
            (".0201WatchDog" + sum8_hex(".0201WatchDog") + "\r", ReplyStatus.BAD_COMMAND),  # other device
            (".01short" + sum8_hex(".01short") + "\r", ReplyStatus.BAD_COMMAND),  # too short
            (".0101WATCHDOG" + sum8_hex(".0101WATCHDOG").upper() + "\r", ReplyStatus.OK),
        ]
        for command, status in cases:
            await client.write(command.encode("ascii"))
            reply = await asyncio.wait_for(client.read_str(), STD_TIMEOUT)
            assert reply[3] == status.value, command
            assert reply[-2:] == sum8_hex(reply[:-2])
        await client.write(b".01\xb0C\r")
        reply = await asyncio.wait_for(client.read_str(), STD_TIMEOUT)
        assert reply[3] == ReplyStatus.BAD_COMMAND.value
        assert mock_chiller.commands[-1] is None
        assert mock_chiller.connected


async def test_client_name_can_be_set() -> None:
    client = ChillerClient(device_id="07", host="", port=0, log=log, name="loop chiller")
    assert client.name == "loop chiller"
    assert ChillerClient(device_id="07", host="", port=0, log=log).name == "chiller 07"
