"""WebSocket consumers. They parse, subscribe to the hub and send; no business rules.

``StreamConsumer`` is the base for every market-data socket: a bounded outbox per
connection drained by one writer task, so a slow client never slows the hub or other
clients; when its outbox overflows the client is disconnected with ``4008`` (documented
in docs/MARKETDATA.md) instead of losing messages silently. Subclasses choose a wire
format (``format_name``) and how stream names map to hub topics.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.sessions import InstanceSessionWrapper
from django.conf import settings

from marketdata.listen_keys import listen_key_user_id_async
from marketdata.streaming.formats import ws_text_frame
from marketdata.streaming.hub import (
    CLOSE_SLOW_CONSUMER,
    KLINE_WIDTH_MS,
    Topic,
    get_hub,
)

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol,
    )
except ImportError:  # another ASGI server: every frame takes the ASGI path
    WebSocketsSansIOProtocol = None

CLOSE_UNAUTHORIZED = 4001
CLOSE_UNKNOWN_MARKET = 4004
OUTBOX_LIMIT = 2000
MAX_SUBSCRIPTIONS = 50
MAX_MESSAGE_BYTES = 8192
SUBSCRIBE_TIMEOUT = 5.0  # waiting for this process's first read of a stream

_symbols: set[str] = set()
_symbols_at = 0.0


@database_sync_to_async
def _load_symbols() -> set[str]:
    from marketdata.models import Market

    return set(Market.objects.values_list("symbol", flat=True))


async def known_markets(*, must_include: str | None = None, fresh: bool = False) -> set[str]:
    """Market symbols, refreshed every 10 s per process, or on a miss at most once a
    second (a market created a moment ago is found; a flood of bad names costs nothing),
    or always with ``fresh``."""
    global _symbols, _symbols_at
    age = time.monotonic() - _symbols_at
    missing = must_include is not None and must_include not in _symbols
    if fresh or age > 10 or (missing and age > 1):
        _symbols = await _load_symbols()
        _symbols_at = time.monotonic()
    return _symbols


# Consumers with frames waiting in ``_wire_pending`` (uvicorn's loop only: one per process).
_dirty: list[StreamConsumer] = []


def _flush_dirty() -> None:
    """Runs once per loop turn in which frames were pushed: one transport write per socket
    for everything the hub emitted in that turn (a batch's trade and depth frames go out in
    one send(2) instead of two; the client wakes once)."""
    batch = _dirty[:]
    _dirty.clear()
    for consumer in batch:
        consumer._write_pending()


def unwrap_send(send):
    """The ASGI send under Channels' session wrapper, and the uvicorn sans-I/O protocol
    object behind it when there is one (else None).

    ``InstanceSessionWrapper.send`` evaluates the lazy session on every message to save it
    on ``http.response.start``, which a WebSocket data frame never is: at 2,000 frames per
    socket-second that was a quarter of the server's CPU, so data frames skip it. Accept
    and close still go through the full ``base_send``."""
    while isinstance(getattr(send, "__self__", None), InstanceSessionWrapper):
        send = send.__self__.real_send
    owner = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is not None and type(owner) is WebSocketsSansIOProtocol:
        return send, owner
    return send, None


class StreamConsumer(AsyncWebsocketConsumer):
    # No channel layer: fan-out goes through the in-process hub, not group_send.
    channel_layer_alias = "__bourse_no_channel_layer__"
    format_name = "native"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.topics: set[Topic] = set()
        self._outbox: collections.deque[str] = collections.deque()
        self._wake = asyncio.Event()
        self._closing: int | None = None
        self._writer: asyncio.Task | None = None
        self._busy = False  # the writer holds a frame not yet handed to the transport
        self._data_send = None
        # uvicorn's protocol object once accepted (None on other servers): data frames
        # are then written to its transport directly, see push().
        self._wire = None
        self._wire_pending: list[bytes] = []
        self.user_id: int | None = None
        # Listen keys this socket's private data depends on, and the task watching them.
        self.listen_keys: set[str] = set()
        self._key_watch: asyncio.Task | None = None
        self.outbox_limit = getattr(settings, "MARKETDATA_WS_OUTBOX_LIMIT", OUTBOX_LIMIT)
        self.max_subscriptions = getattr(settings, "MARKETDATA_WS_MAX_SUBSCRIPTIONS",
                                         MAX_SUBSCRIPTIONS)

    # -- Subscriber protocol (called by the hub) ---------------------------------------
    def push(self, frame: str) -> None:
        if self._closing is not None:
            return
        wire = self._wire
        # Fast path: nothing queued before this frame and the socket's transport below its
        # high-water mark: the pre-encoded frame (formats.Frame.wire) is written at the end
        # of this loop turn (_flush_dirty), without a task switch or the ASGI send chain.
        # Otherwise (a slow socket, the writer busy, replies queued) the frame keeps its
        # order in the outbox, whose limit still decides CLOSE_SLOW_CONSUMER.
        if (wire is not None and not self._outbox and not self._busy
                and wire.writable.is_set() and not wire.close_sent and not wire.disconnected):
            data = getattr(frame, "wire", None)
            pending = self._wire_pending
            if not pending:
                if not _dirty:
                    asyncio.get_running_loop().call_soon(_flush_dirty)
                _dirty.append(self)
            pending.append(data if data is not None else ws_text_frame(frame))
            return
        if len(self._outbox) >= self.outbox_limit:
            self.close_soon(CLOSE_SLOW_CONSUMER)
            return
        self._outbox.append(frame)
        self._wake.set()

    def close_soon(self, code: int) -> None:
        """Stop receiving, drop what is queued, close with ``code`` (concurrently with a
        send blocked on a full socket: the server aborts the transport if the close frame
        cannot be written within its close timeout)."""
        if self._closing is not None:
            return
        self._closing = code
        self._unsubscribe_all()
        self._outbox.clear()
        asyncio.get_running_loop().create_task(self._close(code))

    def _write_pending(self) -> None:
        pending = self._wire_pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        wire = self._wire
        if (wire is None or self._closing is not None or wire.close_sent
                or wire.disconnected):
            return  # closing (what was queued is dropped, as with the outbox) or gone
        try:
            wire.transport.write(data)
        except Exception:  # the transport went away; the disconnect event follows
            self._wire = None

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.base_send({"type": "websocket.close", "code": code})

    async def _drain(self) -> None:
        outbox, wake, send = self._outbox, self._wake, self._data_send
        while True:
            await wake.wait()
            wake.clear()
            self._busy = True
            self._write_pending()  # pushed before anything in the outbox
            try:
                while outbox and self._closing is None:
                    await send({"type": "websocket.send", "text": outbox.popleft()})
            finally:
                self._busy = False

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        await self.accept()
        self._data_send, self._wire = unwrap_send(self.base_send)
        self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def disconnect(self, code):
        self._closing = self._closing or 1000
        self._unsubscribe_all()
        if self._writer is not None:
            self._writer.cancel()
        if self._key_watch is not None:
            self._key_watch.cancel()

    # -- listen keys ------------------------------------------------------------------
    def watch_listen_key(self, listen_key: str) -> None:
        """From now on, ``listen_key`` expiring or being deleted ends this socket's private
        data (:meth:`listen_key_expired`): a key is a bearer token with a lifetime, and a
        socket opened with it must not outlive it."""
        self.listen_keys.add(listen_key)
        if self._key_watch is None:
            self._key_watch = asyncio.get_running_loop().create_task(self._watch_keys())

    async def _watch_keys(self) -> None:
        interval = getattr(settings, "MARKETDATA_LISTEN_KEY_CHECK_SECONDS", 30.0)
        while self._closing is None and self.listen_keys:
            await asyncio.sleep(interval)
            for key in sorted(self.listen_keys):
                with contextlib.suppress(Exception):  # Redis away: check again next time
                    if await listen_key_user_id_async(listen_key=key) is None:
                        self.listen_keys.discard(key)
                        self.listen_key_expired(key)
        self._key_watch = None

    def listen_key_expired(self, listen_key: str) -> None:
        """Native streams: the socket was authenticated by this key; close it with 4001
        (documented: get a new listen key and reconnect)."""
        self.close_soon(CLOSE_UNAUTHORIZED)

    def _unsubscribe_all(self) -> None:
        hub = get_hub()
        for topic in self.topics:
            hub.unsubscribe(topic, self)
        self.topics.clear()

    def reply(self, message: dict) -> None:
        """Queue a control message in order with the data frames."""
        self._outbox.append(json.dumps(message, separators=(",", ":")))
        self._wake.set()

    async def add_topic(self, topic: Topic) -> None:
        if topic in self.topics:
            return
        await get_hub().subscribe(topic, self)
        self.topics.add(topic)

    def remove_topic(self, topic: Topic) -> None:
        get_hub().unsubscribe(topic, self)
        self.topics.discard(topic)


def parse_native_stream(name: str) -> tuple[str, str, str] | None:
    """``BTC-USDT@trades`` -> ("trade", "BTC-USDT", ""), ``private`` -> ("private", "", ""),
    ``BTC-USDT@depth10``, ``@depth``, ``@depth@100ms``, ``@bookTicker``,
    ``@candles_<interval>``, ``@ticker``. None when malformed."""
    if name == "private":
        return ("private", "", "")
    market, sep, stream = name.partition("@")
    if not sep or not market:
        return None
    market = market.upper()
    if stream == "trades":
        return ("trade", market, "")
    if stream in ("depth", "depth@100ms"):
        return (stream, market, "")
    if stream in ("depth5", "depth10", "depth20"):
        return ("depthN", market, stream[5:])
    if stream == "bookTicker":
        return ("bookticker", market, "")
    if stream == "ticker":
        return ("ticker", market, "")
    if stream.startswith("candles_") and stream[8:] in KLINE_WIDTH_MS:
        return ("kline", market, stream[8:])
    return None


class MarketDataConsumer(StreamConsumer):
    """``/ws/v1``: JSON control messages (docs/MARKETDATA.md):

    ``{"op": "subscribe", "id": 1, "streams": ["BTC-USDT@trades", "BTC-USDT@depth"],
    "snapshot": true}``, ``{"op": "unsubscribe", ...}``, ``{"op": "login",
    "listen_key": "..."}``, ``{"op": "ping"}``. Replies carry the request ``id``.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            self.user_id = user.pk
        query = parse_qs(self.scope.get("query_string", b"").decode())
        listen_key = (query.get("listenKey") or query.get("listen_key") or [None])[0]
        if listen_key:
            self.user_id = await listen_key_user_id_async(listen_key=listen_key)
            if self.user_id is None:
                # Accept first so that the client sees the documented close code, not
                # a bare HTTP 403.
                await self.accept()
                await self.close(code=CLOSE_UNAUTHORIZED)
                return
        await self.start()
        if listen_key:
            self.watch_listen_key(listen_key)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None or len(text_data) > MAX_MESSAGE_BYTES:
            self.reply({"op": "error", "code": "malformed", "message": "Send JSON text."})
            return
        try:
            message = json.loads(text_data)
            op = message["op"]
            request_id = message.get("id")
        except (ValueError, KeyError, TypeError, AttributeError):
            self.reply({"op": "error", "code": "malformed",
                        "message": "Expected a JSON object with an 'op'."})
            return
        if op == "ping":
            self.reply({"op": "pong", "id": request_id, "time": int(time.time() * 1000)})
        elif op == "login":
            user_id = await listen_key_user_id_async(listen_key=str(message.get("listen_key")))
            if user_id is None:
                self.reply({"op": "error", "id": request_id, "code": "invalid_listen_key",
                            "message": "Unknown or expired listen key."})
            else:
                self.user_id = user_id
                self.watch_listen_key(str(message.get("listen_key")))
                self.reply({"op": "logged_in", "id": request_id})
        elif op in ("subscribe", "unsubscribe"):
            await self._subscription(op, message, request_id)
        else:
            self.reply({"op": "error", "id": request_id, "code": "unknown_op",
                        "message": f"Unknown op {op!r}."})

    async def _subscription(self, op: str, message: dict, request_id) -> None:
        streams = message.get("streams")
        if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
            self.reply({"op": "error", "id": request_id, "code": "malformed",
                        "message": "'streams' must be a list of stream names."})
            return
        topics = []
        for name in streams:
            topic = parse_native_stream(name)
            if topic is None:
                self.reply({"op": "error", "id": request_id, "code": "unknown_stream",
                            "message": f"Unknown stream {name!r}."})
                return
            if topic[0] == "private":
                if self.user_id is None:
                    self.reply({"op": "error", "id": request_id, "code": "unauthorized",
                                "message": "Log in (session or listen key) for 'private'."})
                    return
                topic = ("private", "", str(self.user_id))
            elif topic[1] not in await known_markets(must_include=topic[1]):
                self.reply({"op": "error", "id": request_id, "code": "unknown_market",
                            "message": f"Unknown market {topic[1]!r}."})
                return
            topics.append(topic)
        if op == "unsubscribe":
            for topic in topics:
                self.remove_topic(topic)
            self.reply({"op": "unsubscribed", "id": request_id, "streams": streams})
            return
        if len(self.topics | set(topics)) > self.max_subscriptions:
            self.reply({"op": "error", "id": request_id, "code": "too_many_subscriptions",
                        "message": f"At most {self.max_subscriptions} streams per connection."})
            return
        hub = get_hub()
        try:
            for topic in topics:
                await asyncio.wait_for(self.add_topic(topic), SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            self.reply({"op": "error", "id": request_id, "code": "unavailable",
                        "message": "Market data is unavailable right now; retry."})
            return
        # The reply and any snapshot are queued before any event read after this point,
        # and the hub is single-threaded: the snapshot is exactly the state that the
        # following diffs apply to.
        self.reply({"op": "subscribed", "id": request_id, "streams": streams})
        if message.get("snapshot"):
            for topic in topics:
                if topic[0] == "depth":
                    from marketdata.streaming.formats import FORMATS

                    feed = hub.feeds[topic[1]]
                    self._outbox.append(FORMATS[self.format_name].encode(
                        "depth_snapshot", topic[1], feed.snapshot()))
            self._wake.set()


class SeedTradesConsumer(StreamConsumer):
    """``/ws/trades`` (every market) and ``/ws/trades?instrument=BTC-USDT`` (one), as the
    TradeOrders reference design streams them: one JSON trade object per message."""

    format_name = "seed"

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        wanted = query.get("instrument")
        if wanted:
            markets = await known_markets(must_include=wanted[0].upper())
            chosen = {w.upper() for w in wanted}
            if not chosen <= markets:
                await self.accept()
                await self.close(code=CLOSE_UNKNOWN_MARKET)
                return
        else:
            # Every market: the list as of this connection, read fresh (one query), so a
            # market listed a moment ago is included; markets listed later need a reconnect.
            chosen = await known_markets(fresh=True)
        for market in sorted(chosen):
            await self.add_topic(("trade", market, ""))
        await self.start()

    async def receive(self, text_data=None, bytes_data=None):
        if text_data and "ping" in text_data:
            self.reply({"op": "pong"})
