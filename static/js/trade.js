// The trading page: chart, order book ladder, trade tape, order form, the user's orders
// and balances, all kept live from one WebSocket with REST resync after (re)connects.
import { createChart, CandlestickSeries, HistogramSeries, ColorType } from "../vendor/lightweight-charts/lightweight-charts.mjs";
import {
  API, Stream, api, getJSON, rows, dec, dadd, dsub, dmul, ddiv, dcmp, dzero, dstr, dfloorTo,
  decimalsOf, fmt, hhmmss, dateTime, toMs, el, emptyRow, pageConfig,
} from "./lib.js";

const cfg = pageConfig();
const M = cfg.market;
const SYMBOL = M.symbol;
const PP = decimalsOf(M.tick_size);   // price places
const QP = decimalsOf(M.step_size);   // quantity places
const $ = (id) => document.getElementById(id);
const perf = (window.__bourse = { tradesSeen: 0, lags: [], arrivals: [], firstData: null, renders: 0 });

// ------------------------------------------------------------------ render scheduling
// Stream messages only mark what changed; one animation frame renders it, so a burst of
// trades costs one layout per frame, not one per message.
const dirty = new Set();
let frameQueued = false;
function schedule(part) {
  dirty.add(part);
  if (!frameQueued) { frameQueued = true; requestAnimationFrame(flush); }
}
function flush() {
  frameQueued = false;
  const parts = [...dirty]; dirty.clear();
  for (const p of parts) RENDER[p]();
  perf.renders++;
  const now = Date.now();
  for (const t of pendingLag) perf.lags.push(now - t);
  pendingLag.length = 0;
}
const pendingLag = [];

// ------------------------------------------------------------------ ticker
const ticker = { last: null, change: null, high: null, low: null, volume: null, open: null };
function applyTicker(t) {
  if (!t) return;
  ticker.last = t.last_price ?? t.lastPrice ?? t.last ?? ticker.last;
  ticker.open = t.open_price ?? t.openPrice ?? t.open ?? ticker.open;
  ticker.change = t.price_change_percent ?? t.priceChangePercent ?? t.change_percent ?? ticker.change;
  ticker.high = t.high_price ?? t.highPrice ?? t.high ?? ticker.high;
  ticker.low = t.low_price ?? t.lowPrice ?? t.low ?? ticker.low;
  ticker.volume = t.volume ?? t.base_volume ?? ticker.volume;
  schedule("ticker");
}
// Direction of a change: "up", "down" or "" (no data, or exactly zero: neutral colour).
function direction(change) {
  const d = dec(change);
  if (!d || dzero(d)) return "";
  return d.v < 0n ? "down" : "up";
}
function renderTicker() {
  const dir = ticker.last === null ? "" : direction(ticker.change);
  const up = dir === "up";
  $("t-last").textContent = ticker.last !== null ? fmt(ticker.last, PP) : "–";
  $("t-last").className = "last num " + dir;
  const ch = $("t-change");
  ch.textContent = ticker.last !== null && ticker.change !== null ? `${up ? "+" : ""}${fmt(ticker.change, 2)}%` : "–";
  ch.className = "num " + dir;
  $("t-high").textContent = ticker.high !== null ? fmt(ticker.high, PP) : "–";
  $("t-low").textContent = ticker.low !== null ? fmt(ticker.low, PP) : "–";
  $("t-volume").textContent = ticker.volume !== null ? fmt(ticker.volume, QP) : "–";
  document.title = `${ticker.last !== null ? fmt(ticker.last, PP) + " · " : ""}${M.base}/${M.quote} · Bourse`;
}

// ------------------------------------------------------------------ order book
// Binance diff-depth: buffer diffs, load a snapshot, drop diffs with u <= lastUpdateId,
// then every diff must start at previous u + 1, or we resync from a new snapshot.
const book = { bids: new Map(), asks: new Map(), lastUpdateId: null, buffer: [], syncing: false };
function setLevels(map, levels) {
  for (const [p, q] of levels) { const d = dec(q); if (!d || dzero(d)) map.delete(p); else map.set(p, q); }
}
function applyDepthSnapshot(snap) {
  book.syncing = false;
  book.bids.clear(); book.asks.clear();
  setLevels(book.bids, snap.bids || []); setLevels(book.asks, snap.asks || []);
  book.lastUpdateId = Number(snap.lastUpdateId ?? snap.last_update_id ?? 0);
  const buffered = book.buffer; book.buffer = [];
  for (const d of buffered) applyDepthDiff(d);
  if (perf.firstData === null) perf.firstData = performance.now();
  schedule("book");
}
async function resyncDepth() {
  if (book.syncing) return;
  book.syncing = true; book.lastUpdateId = null; book.buffer = [];
  const r = await getJSON(API.depth(SYMBOL, 100));
  book.syncing = false;
  if (!r.ok || !r.data) { book.lastUpdateId = -1; schedule("book"); return; }  // no snapshot endpoint: take diffs as they come
  applyDepthSnapshot(r.data);
}
function applyDepthDiff(d) {
  if (book.syncing || book.lastUpdateId === null) { book.buffer.push(d); return; }
  const U = Number(d.U), u = Number(d.u);
  if (book.lastUpdateId === -1) { setLevels(book.bids, d.bids || []); setLevels(book.asks, d.asks || []); schedule("book"); return; }
  if (u <= book.lastUpdateId) return;                  // already in the snapshot
  if (U > book.lastUpdateId + 1) { resubscribeDepth(); return; }  // a gap: start again
  setLevels(book.bids, d.bids || []); setLevels(book.asks, d.asks || []);
  book.lastUpdateId = u;
  schedule("book");
}
function sortedLevels(map, desc) {
  const arr = [...map.entries()].map(([p, q]) => ({ p, q, dp: dec(p), dq: dec(q) }));
  arr.sort((a, b) => desc ? dcmp(b.dp, a.dp) : dcmp(a.dp, b.dp));
  return arr;
}
const LEVELS = 14;
function renderSide(container, levels, cls) {
  let cum = { v: 0n, s: 0 };
  const withCum = levels.map((l) => { cum = dadd(cum, l.dq); return { ...l, cum }; });
  const max = withCum.length ? Number(dstr(withCum[withCum.length - 1].cum)) || 1 : 1;
  const nodes = withCum.map((l) => {
    const pct = Math.min(100, (Number(dstr(l.cum)) / max) * 100);
    return el("button", { type: "button", class: `row ${cls}`, "data-price": l.p, title: `Use price ${l.p}` },
      el("span", { text: fmt(l.p, PP) }), el("span", { text: fmt(l.q, QP) }),
      el("span", { text: fmt(dstr(l.cum), QP) }), el("i", { class: "bar", style: `width:${pct.toFixed(1)}%` }));
  });
  return nodes;
}
function renderBook() {
  const asks = sortedLevels(book.asks, false).slice(0, LEVELS);
  const bids = sortedLevels(book.bids, true).slice(0, LEVELS);
  const askNodes = renderSide($("asks"), asks, "ask").reverse();
  $("asks").replaceChildren(...(askNodes.length ? askNodes : [el("div", { class: "empty", text: "No asks" })]));
  const bidNodes = renderSide($("bids"), bids, "bid");
  $("bids").replaceChildren(...(bidNodes.length ? bidNodes : [el("div", { class: "empty", text: "No bids" })]));
  if (asks.length && bids.length) {
    const spread = dsub(asks[0].dp, bids[0].dp);
    $("book-spread").textContent = fmt(dstr(spread), PP);
  } else $("book-spread").textContent = "–";
  $("book-mid").textContent = ticker.last !== null ? fmt(ticker.last, PP) : "–";
  refreshPreview();
}
$("book").addEventListener("click", (e) => {
  const row = e.target.closest("[data-price]"); if (!row) return;
  const price = $("f-price"); if (!price) return;
  if (form.type === "MARKET") setType("LIMIT");
  price.value = row.dataset.price; price.dispatchEvent(new Event("input")); price.focus();
});

// ------------------------------------------------------------------ trade tape
const tape = [];
const TAPE_MAX = 40;
function addTrades(list, live) {
  for (const t of list) {
    tape.unshift(t);
    if (live) {
      perf.tradesSeen++; const ms = toMs(t.time ?? t.created_at);
      // arrival - trade time: the server's part (commit/publish, Redis, hub, socket);
      // the painted frame - arrival is the browser's part (perf.lags holds the sum).
      if (ms) { pendingLag.push(ms); perf.arrivals.push(Date.now() - ms); }
    }
    ticker.last = t.price;
    updateCandleFromTrade(t);
  }
  if (tape.length > TAPE_MAX) tape.length = TAPE_MAX;
  schedule("tape"); schedule("ticker");
  if (live) schedule("book");
}
function renderTape() {
  if (!tape.length) { $("tape-rows").replaceChildren(el("div", { class: "empty", text: "No trades yet." })); return; }
  $("tape-rows").replaceChildren(...tape.map((t) => el("div", { class: "row", "data-trade-id": t.id },
    el("span", { class: (t.taker_side || t.side) === "SELL" ? "down" : "up", text: fmt(t.price, PP) }),
    el("span", { text: fmt(t.quantity ?? t.qty, QP) }),
    el("span", { text: hhmmss(t.time ?? t.created_at) }))));
}

// ------------------------------------------------------------------ chart
const INTERVAL_S = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400 };
let interval = "1m";
let lastBar = null;
const chartBox = $("chart");
const chart = createChart(chartBox, {
  autoSize: true,
  layout: { background: { type: ColorType.Solid, color: "#161a1e" }, textColor: "#a3acb5", fontSize: 11 },
  grid: { vertLines: { color: "#1f252c" }, horzLines: { color: "#1f252c" } },
  rightPriceScale: { borderColor: "#2b3139" },
  timeScale: { borderColor: "#2b3139", timeVisible: true, secondsVisible: false },
  crosshair: { mode: 0 },
});
const candles = chart.addSeries(CandlestickSeries, {
  upColor: "#0ecb81", downColor: "#f6465d", borderVisible: false, wickUpColor: "#0ecb81", wickDownColor: "#f6465d",
  priceFormat: { type: "price", precision: Math.min(PP, 8), minMove: Number(M.tick_size) },
});
const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "vol", color: "#2b3139" });
chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
function candleFrom(c) {
  if (Array.isArray(c)) return { time: Math.floor(toMs(c[0]) / 1000), open: +c[1], high: +c[2], low: +c[3], close: +c[4], volume: +c[5] };
  return { time: Math.floor(toMs(c.open_time ?? c.time ?? c.t) / 1000), open: +c.open, high: +c.high, low: +c.low, close: +c.close, volume: +(c.volume ?? 0) };
}
async function loadCandles() {
  const r = await getJSON(API.candles(SYMBOL, interval));
  const bars = r.ok ? rows(r.data).map(candleFrom).filter((b) => b.time).sort((a, b) => a.time - b.time) : [];
  candles.setData(bars);
  volume.setData(bars.map((b) => ({ time: b.time, value: b.volume, color: b.close >= b.open ? "rgba(14,203,129,.35)" : "rgba(246,70,93,.35)" })));
  lastBar = bars.length ? { ...bars[bars.length - 1] } : null;
  chart.timeScale().scrollToRealTime();
}
function updateCandleFromTrade(t) {
  const ms = toMs(t.time ?? t.created_at); if (!ms) return;
  const step = INTERVAL_S[interval];
  const time = Math.floor(ms / 1000 / step) * step;
  const price = +t.price, qty = +(t.quantity ?? t.qty ?? 0);  // float for pixels only
  if (lastBar && time < lastBar.time) return;
  if (!lastBar || time > lastBar.time) lastBar = { time, open: price, high: price, low: price, close: price, volume: 0 };
  lastBar.high = Math.max(lastBar.high, price); lastBar.low = Math.min(lastBar.low, price);
  lastBar.close = price; lastBar.volume += qty;
  schedule("candle");
}
function applyKline(k) {
  if (!k || (k.interval && k.interval !== interval)) return;
  const b = candleFrom(k); if (!b.time) return;
  if (lastBar && b.time < lastBar.time) return;
  lastBar = b; schedule("candle");
}
function renderCandle() {
  if (!lastBar) return;
  candles.update({ time: lastBar.time, open: lastBar.open, high: lastBar.high, low: lastBar.low, close: lastBar.close });
  volume.update({ time: lastBar.time, value: lastBar.volume, color: lastBar.close >= lastBar.open ? "rgba(14,203,129,.35)" : "rgba(246,70,93,.35)" });
}
document.querySelector(".chart-toolbar").addEventListener("click", (e) => {
  const b = e.target.closest("[data-interval]"); if (!b) return;
  stream.unsubscribe([`${SYMBOL}@candles_${interval}`]);
  interval = b.dataset.interval;
  stream.subscribe([`${SYMBOL}@candles_${interval}`]);
  for (const x of document.querySelectorAll(".chart-toolbar [data-interval]")) x.setAttribute("aria-pressed", String(x === b));
  loadCandles();
});

// ------------------------------------------------------------------ balances
const balances = new Map();   // asset -> {available, locked}
function applyBalance(b) {
  const asset = b.asset ?? b.symbol; if (!asset) return;
  balances.set(asset, { available: b.available ?? b.free ?? "0", locked: b.locked ?? "0" });
  schedule("balances");
}
function renderBalances() {
  for (const node of document.querySelectorAll("#balances-mini [data-asset]")) {
    const b = balances.get(node.dataset.asset);
    const places = node.dataset.asset === M.base ? QP : Math.max(PP, 2);
    node.textContent = b ? `${fmt(b.available, 8)} / ${fmt(b.locked, 8)}` : "0 / 0";
    node.title = b ? `available ${b.available}, locked ${b.locked}` : "";
    node.dataset.available = b ? b.available : "0";
    void places;
  }
  refreshPreview();
}
async function loadBalances() {
  if (!cfg.authenticated) return;
  const r = await getJSON(API.balances);
  if (r.ok) for (const b of rows(r.data)) applyBalance(b);
  schedule("balances");
}

// ------------------------------------------------------------------ order form
const form = { side: "BUY", type: "LIMIT" };
const formEl = $("order-form");
function setSide(side) {
  form.side = side;
  for (const b of formEl.querySelectorAll("[data-side]")) b.setAttribute("aria-pressed", String(b.dataset.side === side));
  const submit = $("f-submit");
  submit.textContent = `${side === "BUY" ? "Buy" : "Sell"} ${M.base}`;
  submit.className = `submit ${side === "BUY" ? "btn-buy" : "btn-sell"}`;
  refreshPreview();
}
function setType(type) {
  form.type = type;
  for (const b of formEl.querySelectorAll("[data-type]")) b.setAttribute("aria-pressed", String(b.dataset.type === type));
  formEl.querySelector('[data-for="price"]').hidden = type === "MARKET";
  formEl.querySelector('[data-for="stop_price"]').hidden = type !== "STOP_LOSS_LIMIT";
  clearErrors(); refreshPreview();
}
function bestAsk() { const a = sortedLevels(book.asks, false)[0]; return a ? a.p : null; }
function bestBid() { const b = sortedLevels(book.bids, true)[0]; return b ? b.p : null; }
function effectivePrice() {
  if (form.type !== "MARKET") return dec($("f-price").value);
  return dec(form.side === "BUY" ? bestAsk() : bestBid()) || dec(ticker.last);
}
function availableFor(side) { const b = balances.get(side === "BUY" ? M.quote : M.base); return dec(b ? b.available : "0"); }
function refreshPreview() {
  if (!formEl) return;
  const avail = availableFor(form.side);
  $("p-avail").textContent = `${fmt(dstr(avail), 8)} ${form.side === "BUY" ? M.quote : M.base}`;
  const price = effectivePrice(), qty = dec($("f-qty").value);
  if (!price || !qty) { $("p-total").textContent = "–"; $("p-fee").textContent = "–"; return; }
  const total = dmul(price, qty);
  const taker = dec(M.taker_fee);
  $("p-total").textContent = `${form.type === "MARKET" ? "≈ " : ""}${fmt(dstr(total), Math.max(PP, 2))} ${M.quote}`;
  // The buyer pays the fee in base, the seller in quote (docs/CONTRACTS.md); taker rate is the maximum.
  $("p-fee").textContent = form.side === "BUY"
    ? `${fmt(dstr(dmul(qty, taker)), 8)} ${M.base}` : `${fmt(dstr(dmul(total, taker)), 8)} ${M.quote}`;
}
function applyPercent(pct) {
  const avail = availableFor(form.side);
  const share = ddiv(dmul(avail, { v: BigInt(pct), s: 0 }), { v: 100n, s: 0 }, 18);
  let qty;
  if (form.side === "SELL") qty = share;
  else { const price = effectivePrice(); if (!price || dzero(price)) { showFieldError("price", "Enter a price first."); return; } qty = ddiv(share, price, 18); }
  qty = dfloorTo(qty, M.step_size);
  $("f-qty").value = dstr(qty, QP);
  clearErrors(); refreshPreview();
}
function clearErrors() {
  for (const n of formEl.querySelectorAll("[data-error-for]")) n.textContent = "";
  for (const n of formEl.querySelectorAll("input")) n.removeAttribute("aria-invalid");
  for (const n of formEl.querySelectorAll(".input-unit")) n.classList.remove("invalid");
  $("form-error").hidden = true; $("form-ok").hidden = true;
}
function showFieldError(field, message) {
  const alias = { quote_order_qty: "quantity", qty: "quantity", amount: "quantity", stopPrice: "stop_price" };
  const name = alias[field] || field;
  const slot = formEl.querySelector(`[data-error-for="${name}"]`);
  const input = formEl.querySelector(`[name="${name}"]`);
  if (!slot || !input || input.closest(".field").hidden) return false;
  slot.textContent = message; input.setAttribute("aria-invalid", "true"); input.closest(".input-unit").classList.add("invalid");
  return true;
}
function localValidate(body) {
  const errs = {};
  const need = (f, label) => { if (body[f] === undefined || body[f] === "") errs[f] = `${label} is required.`; else if (!dec(body[f]) || dcmp(dec(body[f]), { v: 0n, s: 0 }) <= 0) errs[f] = `${label} must be a positive number.`; };
  need("quantity", "Amount");
  if (form.type !== "MARKET") need("price", "Price");
  if (form.type === "STOP_LOSS_LIMIT") need("stop_price", "Stop");
  return errs;
}
async function submitOrder(e) {
  e.preventDefault();
  clearErrors();
  const body = { market: SYMBOL, side: form.side, type: form.type, quantity: $("f-qty").value.trim(), response_type: "ACK" };
  if (form.type !== "MARKET") { body.price = $("f-price").value.trim(); body.time_in_force = "GTC"; }
  if (form.type === "STOP_LOSS_LIMIT") body.stop_price = $("f-stop").value.trim();
  const local = localValidate(body);
  if (Object.keys(local).length) { for (const [f, m] of Object.entries(local)) showFieldError(f, m); formEl.querySelector('[aria-invalid="true"]')?.focus(); return; }
  const submit = $("f-submit"); submit.disabled = true;
  const r = await api("POST", API.orders, body);
  submit.disabled = false;
  if (!r.ok) {
    const d = r.data || {};
    let placed = false;
    // fields map a field to a code ("price": "price_filter") or to {code, message}; the
    // human sentence is the top-level message, shown at the field when one field is named.
    const named = Object.entries(d.fields || {});
    for (const [f, v] of named) {
      const own = typeof v === "object" && v !== null ? v.message : (/\s/.test(String(v)) ? String(v) : null);
      placed = showFieldError(f, own || (named.length === 1 && d.message) || "Check this value.") || placed;
    }
    if (!placed || named.length > 1) { $("form-error").textContent = d.message || "The order was rejected."; $("form-error").hidden = false; }
    $("form-error").dataset.code = d.code || "";
    formEl.querySelector('[aria-invalid="true"]')?.focus();
    return;
  }
  const o = r.data.order || r.data;
  $("form-ok").textContent = `Order placed: ${o.side || form.side} ${fmt(o.quantity || body.quantity, QP)} ${M.base}${o.status ? ` (${o.status})` : ""}.`;
  $("form-ok").hidden = false;
  $("f-qty").value = ""; refreshPreview();
  if (o.id) upsertOrder(o);
  loadBalances();
}
if (formEl) {
  formEl.addEventListener("click", (e) => {
    const s = e.target.closest("[data-side]"); if (s) setSide(s.dataset.side);
    const t = e.target.closest("[data-type]"); if (t) setType(t.dataset.type);
    const p = e.target.closest("[data-pct]"); if (p) applyPercent(Number(p.dataset.pct));
  });
  formEl.addEventListener("input", (e) => {
    const f = e.target.closest(".field"); if (f) { const slot = f.querySelector("[data-error-for]"); slot.textContent = ""; e.target.removeAttribute("aria-invalid"); f.querySelector(".input-unit")?.classList.remove("invalid"); }
    refreshPreview();
  });
  formEl.addEventListener("submit", submitOrder);
}

// ------------------------------------------------------------------ my orders and trades
const openOrders = new Map();   // id -> order
const history = new Map();
const myTrades = [];
const isOpen = (o) => o.status === "NEW" || o.status === "PARTIALLY_FILLED";
function upsertOrder(o) {
  if ((o.market ?? o.symbol) && (o.market ?? o.symbol) !== SYMBOL) return;
  if (isOpen(o)) openOrders.set(String(o.id), o); else openOrders.delete(String(o.id));
  history.set(String(o.id), o);
  schedule("orders");
}
function avgPrice(o) {
  const f = dec(o.filled_quantity), c = dec(o.cumulative_quote);
  if (!f || !c || dzero(f)) return "–";
  return fmt(dstr(ddiv(c, f, PP)), PP);
}
function renderOrders() {
  if (!$("open-orders")) return;
  const open = [...openOrders.values()].sort((a, b) => Number(b.id) - Number(a.id));
  $("open-count").textContent = String(open.length);
  if (!open.length) emptyRow($("open-orders"), 8, "No open orders.");
  else $("open-orders").replaceChildren(...open.map((o) => el("tr", { "data-order-id": o.id },
    el("td", { text: dateTime(o.created ?? o.created_at) }),
    el("td", { class: o.side === "BUY" ? "up" : "down", text: o.side }),
    el("td", { text: o.type }),
    el("td", { class: "num", text: o.price ? fmt(o.price, PP) : "Market" }),
    el("td", { class: "num", text: fmt(o.quantity, QP) }),
    el("td", { class: "num", text: fmt(o.filled_quantity ?? "0", QP) }),
    el("td", { text: o.status }),
    el("td", {}, el("button", { type: "button", class: "btn-small", "data-cancel": o.id, "aria-label": `Cancel order ${o.id}`, text: "Cancel" })))));
  const hist = [...history.values()].sort((a, b) => Number(b.id) - Number(a.id)).slice(0, 100);
  if (!hist.length) emptyRow($("order-history"), 8, "No orders yet.");
  else $("order-history").replaceChildren(...hist.map((o) => el("tr", { "data-order-id": o.id },
    el("td", { text: dateTime(o.created ?? o.created_at) }),
    el("td", { class: o.side === "BUY" ? "up" : "down", text: o.side }),
    el("td", { text: o.type }),
    el("td", { class: "num", text: o.price ? fmt(o.price, PP) : "Market" }),
    el("td", { class: "num", text: fmt(o.quantity ?? "", QP) }),
    el("td", { class: "num", text: fmt(o.filled_quantity ?? "0", QP) }),
    el("td", { class: "num", text: avgPrice(o) }),
    el("td", { text: o.status + (o.reason ? ` (${o.reason})` : "") }))));
  if (!myTrades.length) emptyRow($("my-trades"), 6, "No trades yet.");
  else $("my-trades").replaceChildren(...myTrades.slice(0, 100).map((t) => el("tr", { "data-trade-id": t.trade_id ?? t.id },
    el("td", { text: dateTime(t.time ?? t.created_at) }),
    el("td", { class: t.side === "BUY" ? "up" : "down", text: t.side || "" }),
    el("td", { class: "num", text: fmt(t.price, PP) }),
    el("td", { class: "num", text: fmt(t.quantity, QP) }),
    el("td", { class: "num", text: t.fee !== undefined ? `${fmt(t.fee, 8)} ${t.fee_asset || ""}` : "–" }),
    el("td", { text: t.is_maker === undefined ? "" : t.is_maker ? "Maker" : "Taker" }))));
}
async function loadOrders() {
  if (!cfg.authenticated) return;
  const [open, hist, trades] = await Promise.all([getJSON(API.openOrders(SYMBOL)), getJSON(API.orderHistory(SYMBOL)), getJSON(API.myTrades(SYMBOL))]);
  if (open.ok) { openOrders.clear(); for (const o of rows(open.data)) upsertOrder(o); }
  if (hist.ok) for (const o of rows(hist.data)) { history.set(String(o.id), o); if (!isOpen(o)) openOrders.delete(String(o.id)); }
  if (trades.ok) { myTrades.length = 0; myTrades.push(...rows(trades.data)); }
  schedule("orders");
}
document.addEventListener("click", async (e) => {
  const c = e.target.closest("[data-cancel]");
  if (c) {
    c.disabled = true;
    const r = await api("DELETE", API.order(c.dataset.cancel));
    if (r.ok) { const o = r.data.order || r.data; if (o && o.id) upsertOrder(o); } else { c.disabled = false; alert(r.data.message || "Could not cancel."); }
    return;
  }
  if (e.target.closest("#cancel-all")) {
    const r = await api("POST", API.cancelAll(), { market: SYMBOL });
    if (r.ok) for (const o of rows(r.data)) upsertOrder(o);
    loadOrders();
  }
});
// Tabs: click and arrow keys (WAI-ARIA tabs pattern).
const tabs = [...document.querySelectorAll('.orders-panel [role="tab"]')];
function selectTab(t) {
  for (const x of tabs) { const on = x === t; x.setAttribute("aria-selected", String(on)); x.tabIndex = on ? 0 : -1; const pane = $(x.getAttribute("aria-controls")); if (pane) pane.hidden = !on; }
  t.focus();
}
for (const t of tabs) {
  t.addEventListener("click", () => selectTab(t));
  t.addEventListener("keydown", (e) => { const i = tabs.indexOf(t); if (e.key === "ArrowRight") selectTab(tabs[(i + 1) % tabs.length]); if (e.key === "ArrowLeft") selectTab(tabs[(i - 1 + tabs.length) % tabs.length]); });
}
$("market-select").addEventListener("change", (e) => { location.href = `/trade/${e.target.value}/`; });

// ------------------------------------------------------------------ private events
function applyPrivate(d) {
  if (!d) return;
  const kind = d.type || d.event || (d.order ? "order" : d.asset ? "balance" : "");
  if (kind === "order" || d.order) {
    const o = d.order || d; upsertOrder(o);
    if (d.fill) { myTrades.unshift({ ...d.fill, side: o.side, time: o.updated ?? Date.now() }); schedule("orders"); }
  }
  if (kind === "balance" || (d.asset && d.available !== undefined)) applyBalance(d);
  if (Array.isArray(d.balances)) d.balances.forEach(applyBalance);
  if (Array.isArray(d.orders)) d.orders.forEach((u) => applyPrivate(u));
}

// ------------------------------------------------------------------ wiring
const RENDER = { ticker: renderTicker, book: renderBook, tape: renderTape, candle: renderCandle, balances: renderBalances, orders: renderOrders };
async function loadTrades() {
  const r = await getJSON(API.trades(SYMBOL));
  if (!r.ok) return;
  const list = rows(r.data).slice().sort((a, b) => Number(a.id) - Number(b.id));
  tape.length = 0; addTrades(list.slice(-TAPE_MAX), false);
}
async function loadTicker() {
  const r = await getJSON(API.ticker(SYMBOL));
  if (r.ok) applyTicker(r.data);
}
// After a (re)connect the socket sends the depth snapshot (subscribe with snapshot);
// REST fills in the rest. While the socket is down, REST depth stands in for it.
function resyncAll({ depth = false } = {}) {
  return Promise.all([depth ? resyncDepth() : null, loadTrades(), loadTicker(), loadBalances(), loadOrders()]);
}
function resubscribeDepth() {
  book.lastUpdateId = null; book.syncing = true; book.buffer = [];
  stream.unsubscribe([`${SYMBOL}@depth`]); stream.subscribe([`${SYMBOL}@depth`]);
}
let pollTimer = null;
let opened = 0;
const stream = new Stream({
  subscriptions: [`${SYMBOL}@depth`, `${SYMBOL}@trades`, `${SYMBOL}@ticker`, `${SYMBOL}@candles_${interval}`, ...(cfg.authenticated ? ["private"] : [])],
  // The first open needs no REST resync: the initial load below is already under way
  // (started by the template's prefetch); every reconnect after a drop does.
  onOpen: () => {
    clearInterval(pollTimer); pollTimer = null; book.lastUpdateId = null; book.syncing = true;
    if (opened++) resyncAll();
  },
  // While the stream is down, poll REST so balances and orders still move.
  onClose: () => { if (!pollTimer) pollTimer = setInterval(() => resyncAll({ depth: true }), 3000); },
  onMessage: ({ channel, market, data }) => {
    if (market && market !== SYMBOL) return;
    if (channel === "depth" || channel === "depth@100ms") applyDepthDiff(data);
    else if (channel === "depthSnapshot") applyDepthSnapshot(data);
    else if (channel === "trades") addTrades(Array.isArray(data) ? data : [data], true);
    else if (channel === "ticker") applyTicker(data);
    else if (channel === "candles") applyKline(data);
    else if (channel === "private") applyPrivate(data);
  },
});
window.__bourse.stream = stream;
resyncAll({ depth: true }).then(() => { perf.loaded = performance.now(); document.documentElement.dataset.ready = "1"; });
loadCandles();
