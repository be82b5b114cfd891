// Shared helpers of the Bourse pages: exact decimals, the REST client, the live stream.
// Money never goes through float: amounts stay decimal strings and are computed with
// BigInt-scaled decimals. Floats are used only for pixels (depth bar widths, chart).

// ---------------------------------------------------------------- endpoints
// Every path the pages call, in one place (docs/API.md is the reference).
export const API = {
  markets: "/api/v1/markets",
  tickers: "/api/v1/tickers",
  ticker: (m) => `/api/v1/markets/${m}/ticker`,
  depth: (m, limit = 50) => `/api/v1/markets/${m}/depth?limit=${limit}`,
  trades: (m, limit = 60) => `/api/v1/markets/${m}/trades?limit=${limit}`,
  candles: (m, iv, limit = 300) => `/api/v1/markets/${m}/candles?interval=${iv}&limit=${limit}`,
  orders: "/api/v1/orders",
  order: (id) => `/api/v1/orders/${id}`,
  openOrders: (m) => `/api/v1/orders/open${m ? `?market=${m}` : ""}`,
  orderHistory: (m) => `/api/v1/orders${m ? `?market=${m}` : ""}`,
  cancelAll: (m) => `/api/v1/orders/cancel-all${m ? `?market=${m}` : ""}`,
  myTrades: (m) => `/api/v1/trades${m ? `?market=${m}` : ""}`,
  balances: "/api/v1/balances",
  depositAddress: (a) => `/api/v1/deposit-address?asset=${a}`,
  deposits: "/api/v1/deposits",
  simulateDeposit: "/api/v1/deposits/simulate",
  withdrawals: "/api/v1/withdrawals",
  addressBook: "/api/v1/withdrawal-addresses",
  ledger: "/api/v1/ledger",
  securityEvents: "/api/v1/security-events",
  sessions: "/api/v1/account/sessions",
  stream: "/ws/v1",
};

// ---------------------------------------------------------------- decimals
const TEN = 10n;
export function dec(s) {
  // "12.340" -> {v: 12340n, s: 3}; null for anything that is not a plain decimal.
  if (s === null || s === undefined) return null;
  s = String(s).trim();
  // Python's str(Decimal) may use an exponent ("0E-18", "1E+1"): accepted, exactly.
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m || (m[2] === "" && (m[3] === undefined || m[3] === ""))) return null;
  const frac = m[3] || "";
  let v = BigInt((m[2] || "0") + frac);
  if (m[1]) v = -v;
  let scale = frac.length - Number(m[4] || 0);
  if (scale < 0) { v *= TEN ** BigInt(-scale); scale = 0; }
  return { v, s: scale };
}
function rescale(a, s) { return a.s === s ? a.v : a.v * TEN ** BigInt(s - a.s); }
export function dadd(a, b) { const s = Math.max(a.s, b.s); return { v: rescale(a, s) + rescale(b, s), s }; }
export function dsub(a, b) { return dadd(a, { v: -b.v, s: b.s }); }
export function dmul(a, b) { return { v: a.v * b.v, s: a.s + b.s }; }
export function dcmp(a, b) { const s = Math.max(a.s, b.s); const x = rescale(a, s), y = rescale(b, s); return x < y ? -1 : x > y ? 1 : 0; }
export function dzero(a) { return a.v === 0n; }
// Divide, truncated (toward zero) to `places` decimals.
export function ddiv(a, b, places) {
  if (b.v === 0n) return null;
  const num = a.v * TEN ** BigInt(places + b.s);
  const den = b.v * TEN ** BigInt(a.s);
  return { v: num / den, s: places };
}
// Round down to a multiple of a step ("0.001"): used by the % buttons, never rounding up.
export function dfloorTo(a, step) {
  const st = dec(step); if (!st || st.v === 0n) return a;
  const s = Math.max(a.s, st.s); const x = rescale(a, s), y = rescale(st, s);
  return { v: (x / y) * y, s };
}
export function dstr(a, places) {
  // Fixed `places` decimals (truncated); without places, trailing zeros trimmed.
  if (!a) return "";
  let v = a.v, s = a.s;
  if (places !== undefined && places < s) { v = v / TEN ** BigInt(s - places); s = places; }
  if (places !== undefined && places > s) { v = v * TEN ** BigInt(places - s); s = places; }
  const neg = v < 0n; if (neg) v = -v;
  let digits = v.toString().padStart(s + 1, "0");
  let out = s ? digits.slice(0, -s) + "." + digits.slice(-s) : digits;
  if (places === undefined && s) out = out.replace(/\.?0+$/, "");
  return (neg ? "-" : "") + out;
}
export function decimalsOf(step) { const d = dec(step); if (!d) return 8; return dstr(d).split(".")[1]?.length || 0; }
// Format a decimal string to n places without float; grouping in the integer part.
export function fmt(s, places, group = true) {
  const d = dec(s); if (!d) return s === null || s === undefined ? "–" : String(s);
  let out = dstr(d, places);
  if (group) { const [i, f] = out.split("."); out = i.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (f !== undefined ? "." + f : ""); }
  return out;
}

// ---------------------------------------------------------------- REST
function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : "";
}
// GETs the page started before its modules loaded (an inline script in the template,
// window.__prefetch: path -> fetch promise); each is used once, later calls go out anew.
function prefetched(method, path) {
  const pf = method === "GET" && window.__prefetch;
  if (!pf || !pf[path]) return null;
  const p = pf[path]; delete pf[path];
  return p;
}
export async function api(method, path, body) {
  const early = prefetched(method, path);
  const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  if (method !== "GET") opts.headers["X-CSRFToken"] = cookie("csrftoken");
  let res;
  try { res = await (early || fetch(path, opts)); } catch (e) { return { ok: false, status: 0, data: { code: "network", message: "The server could not be reached." } }; }
  let data = null;
  const ct = res.headers.get("content-type") || "";
  if (ct.includes("json")) { try { data = await res.json(); } catch { data = null; } }
  if (!res.ok && (!data || typeof data !== "object")) data = { code: `http_${res.status}`, message: `Request failed (${res.status}).` };
  return { ok: res.ok, status: res.status, data };
}
export const getJSON = (p) => api("GET", p);
// Lists may come bare or paginated ({results: [...]}) or wrapped ({items|data: [...]}).
export function rows(data) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === "object") for (const k of ["results", "items", "data", "orders", "trades", "balances"]) if (Array.isArray(data[k])) return data[k];
  return [];
}

// ---------------------------------------------------------------- time, DOM
export function toMs(t) {
  if (t === null || t === undefined) return null;
  if (typeof t === "number") return t < 1e11 ? t * 1000 : t;
  if (/^\d+$/.test(String(t))) return toMs(Number(t));
  const ms = Date.parse(t); return Number.isNaN(ms) ? null : ms;
}
const pad = (n) => String(n).padStart(2, "0");
export function hhmmss(t) { const ms = toMs(t); if (ms === null) return ""; const d = new Date(ms); return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; }
export function dateTime(t) { const ms = toMs(t); if (ms === null) return ""; const d = new Date(ms); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hhmmss(ms)}`; }
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
export function emptyRow(tbody, cols, text) { tbody.replaceChildren(el("tr", {}, el("td", { colspan: cols, class: "empty", text }))); }
export function pageConfig() { const n = document.getElementById("page-config"); return n ? JSON.parse(n.textContent) : {}; }

// ---------------------------------------------------------------- live stream
// One WebSocket per page (/ws/v1, docs/MARKETDATA.md): {"op": "subscribe", "streams":
// ["BTC-USDT@trades", "BTC-USDT@depth", "private", ...], "snapshot": true}; the depth
// snapshot then arrives on the socket itself, exactly the state the following diffs
// apply to. Reconnects with capped exponential backoff; after every
// (re)connection it re-sends the subscriptions and calls onOpen so the page can resync
// its state from REST (depth snapshot, open orders, balances). The topbar #conn badge
// shows "Live" or "Disconnected".
export class Stream {
  constructor({ subscriptions = [], onMessage, onOpen, onClose } = {}) {
    this.subscriptions = subscriptions; this.onMessage = onMessage; this.onOpen = onOpen; this.onClose = onClose;
    this.backoff = 500; this.ws = null; this.ids = 0; this.closed = false; this.badge = document.getElementById("conn");
    this.connect();
  }
  url() { return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${API.stream}`; }
  setStatus(live) {
    if (!this.badge) return;
    this.badge.hidden = false;
    this.badge.className = "conn " + (live ? "live" : "down");
    this.badge.textContent = live ? "Live" : "Disconnected – reconnecting…";
    document.documentElement.dataset.stream = live ? "live" : "down";
  }
  connect() {
    let ws;
    try { ws = new WebSocket(this.url()); } catch { this.retry(); return; }
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 500; this.setStatus(true);
      if (this.subscriptions.length) this.send({ op: "subscribe", id: ++this.ids, streams: this.subscriptions, snapshot: true });
      this.onOpen && this.onOpen();
    };
    ws.onmessage = (ev) => {
      let msg; try { msg = JSON.parse(ev.data); } catch { return; }
      const batch = Array.isArray(msg) ? msg : [msg];
      for (const m of batch) this.onMessage && this.onMessage(normalize(m));
    };
    ws.onclose = () => { this.setStatus(false); this.onClose && this.onClose(); if (!this.closed) this.retry(); };
    ws.onerror = () => { try { ws.close(); } catch { /* closing anyway */ } };
  }
  retry() { const wait = this.backoff; this.backoff = Math.min(this.backoff * 2, 8000); setTimeout(() => this.connect(), wait + Math.random() * 250); }
  send(obj) { if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(obj)); }
  subscribe(streams) { this.subscriptions.push(...streams); this.send({ op: "subscribe", id: ++this.ids, streams, snapshot: true }); }
  unsubscribe(streams) { this.subscriptions = this.subscriptions.filter((s) => !streams.includes(s)); this.send({ op: "unsubscribe", id: ++this.ids, streams }); }
  close() { this.closed = true; this.ws && this.ws.close(); }
}
// The native format (marketdata/streaming/formats.py): {"stream": "trades"|"depth"|
// "candles"|"ticker"|"bookTicker", "market": M, "data": {...}} for public streams, a depth
// snapshot carries "type": "snapshot", and private events are {"stream": "private",
// "type": "order"|"balance", "data": {...}}. This turns each into {channel, market, data}.
export function normalize(m) {
  let channel = m.stream || m.channel || "";
  if (channel === "depth" && m.type === "snapshot") channel = "depthSnapshot";
  if (m.interval && m.data && m.data.interval === undefined) m.data.interval = m.interval;
  return { channel, market: m.market || null, type: m.type, data: m.data !== undefined ? m.data : m, raw: m };
}
