"""The hub's wire frames, and what a web process does when Redis comes back empty.

The Redis test runs its own ``redis-server`` (the binary the dev services use) on a free
port, so that restarting it does not disturb anyone else's Redis; the web process is a
real uvicorn with a real ``websockets`` client, as in test_streams.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import tempfile
import time

import pytest
import redis
from django.test import override_settings
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from marketdata import publishing, redis_conn
from marketdata.publishing import publish_batch
from marketdata.streaming.formats import frame_of, ws_text_frame
from marketdata.streaming.hub import CLOSE_STREAM_GAP
from marketdata.tests.support import asgi_server, free_port, make_market


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70_000])
def test_pre_encoded_frame_is_one_final_unmasked_text_frame(size):
    # given a text of this many UTF-8 bytes (multi-byte characters included)
    text = ("é" * (size // 2)) + ("x" * (size % 2))
    # when the hub encodes it once for every socket
    wire = frame_of(text).wire
    # then a WebSocket client parses exactly one complete text frame carrying it
    reader = StreamReader()
    reader.feed_data(wire)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame = done.value.value
    assert (frame.opcode, frame.fin, frame.rsv1) == (Opcode.TEXT, True, False)
    assert frame.data.decode() == text
    assert reader.at_eof()
    assert ws_text_frame(text) == wire


def test_data_frames_find_uvicorns_transport_under_the_session_wrapper():
    """The fast path depends on finding uvicorn's sans-I/O protocol behind Channels'
    session wrapper; if either library changes shape, this fails instead of the fan-out
    silently falling back to the slow ASGI path."""
    from channels.sessions import InstanceSessionWrapper
    from uvicorn.config import Config
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState

    from marketdata.streaming.consumers import unwrap_send

    async def app(scope, receive, send):  # pragma: no cover - never called
        pass

    loop = asyncio.new_event_loop()
    try:
        config = Config(app=app, ws="websockets-sansio")
        config.load()
        protocol = WebSocketsSansIOProtocol(config, ServerState(), {}, _loop=loop)
        wrapper = InstanceSessionWrapper({"cookies": {}}, protocol.send)
        send, found = unwrap_send(wrapper.send)
        assert found is protocol
        assert send == protocol.send
        assert unwrap_send(app) == (app, None)  # another server: no fast path
    finally:
        loop.close()


def _redis_server(port: int, workdir: str) -> subprocess.Popen:
    from exchange.devservices import _redis_server_bin

    proc = subprocess.Popen(
        [_redis_server_bin(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(10)


@contextlib.contextmanager
def publishing_to(url: str):
    """publish_batch in this process writes to ``url`` (its client and scripts are cached
    per process)."""
    with override_settings(REDIS_URL=url):
        redis_conn.sync_client.cache_clear()
        publishing._scripts.clear()
        try:
            yield
        finally:
            redis_conn.sync_client.cache_clear()
            publishing._scripts.clear()


async def read_until_closed(ws) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 20)


@pytest.mark.django_db(transaction=True)
def test_redis_restarted_empty_closes_depth_followers_with_4009(django_db_blocker):
    # given a web process and a client following a market's depth, on a Redis of their own
    from websockets.asyncio.client import connect

    market = make_market()
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    workdir = tempfile.mkdtemp(prefix="bourse-redis-restart-")
    procs = [_redis_server(port, workdir)]

    def publish(first: int, last: int) -> None:
        with publishing_to(url):
            for i in range(first, last + 1):
                level = [[f"{100 + i}.00", "1"]]
                publish_batch(market=market.symbol, trades=[],
                              depth_update={"U": i, "u": i, "bids": level, "asks": []},
                              depth_snapshot={"lastUpdateId": i, "bids": level, "asks": []},
                              order_updates=[], balance_updates=[])

    def restart_empty() -> None:
        _stop(procs.pop())
        procs.append(_redis_server(port, workdir))

    async def scenario(host: str) -> int:
        await asyncio.to_thread(publish, 1, 3)
        async with connect(f"ws://{host}/ws/v1") as ws:
            await ws.send(json.dumps({"op": "subscribe", "id": 1,
                                      "streams": [f"{market.symbol}@depth"]}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["op"] == "subscribed"
            await asyncio.to_thread(publish, 4, 6)
            last = 0
            while last < 6:
                last = json.loads(await asyncio.wait_for(ws.recv(), 10))["data"]["u"]
            # when Redis restarts with nothing in it
            await asyncio.to_thread(restart_empty)
            # then the follower is told to resync rather than left on a stale book
            with pytest.raises(ConnectionClosed) as closed:
                await read_until_closed(ws)
            return closed.value.rcvd.code

    try:
        with django_db_blocker.unblock(), asgi_server(extra_env={"REDIS_URL": url}) as host:
            assert asyncio.run(scenario(host)) == CLOSE_STREAM_GAP
    finally:
        for proc in procs:
            _stop(proc)
