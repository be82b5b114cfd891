// Landing page: the 24h ticker of every market, live over the stream.
import { API, Stream, getJSON, rows, fmt, pageConfig } from "./lib.js";

const cfg = pageConfig();
const symbols = (cfg.markets || []).map((m) => m.symbol);
const places = Object.fromEntries((cfg.markets || []).map((m) => [m.symbol, (m.tick_size.split(".")[1] || "").length]));

function show(t) {
  const sym = t.market ?? t.symbol;
  const tr = document.querySelector(`tr[data-market="${sym}"]`);
  if (!tr) return;
  const set = (f, text, cls) => { const td = tr.querySelector(`[data-f="${f}"]`); td.textContent = text; if (cls !== undefined) td.className = `num ${cls}`; };
  const last = t.last_price ?? t.lastPrice ?? t.last;
  const ch = t.price_change_percent ?? t.priceChangePercent ?? t.change_percent;
  const up = ch !== undefined && ch !== null && !String(ch).startsWith("-");
  if (last !== undefined && last !== null) set("last", fmt(last, places[sym]), ch === undefined || ch === null ? "" : up ? "up" : "down");
  if (ch !== undefined && ch !== null) set("change", `${up ? "+" : ""}${fmt(ch, 2)}%`, up ? "up" : "down");
  const hi = t.high_price ?? t.highPrice ?? t.high, lo = t.low_price ?? t.lowPrice ?? t.low;
  if (hi !== undefined && hi !== null) tr.querySelector('[data-f="high"]').textContent = fmt(hi, places[sym]);
  if (lo !== undefined && lo !== null) tr.querySelector('[data-f="low"]').textContent = fmt(lo, places[sym]);
  const vol = t.quote_volume ?? t.quoteVolume;
  if (vol !== undefined && vol !== null) set("volume", fmt(vol, 2), "");
  else if (t.volume !== undefined) set("volume", fmt(t.volume, 4), "");
}
async function load() {
  const r = await getJSON(API.tickers);
  if (r.ok) rows(r.data).forEach(show);
  document.documentElement.dataset.ready = "1";
}
if (symbols.length) {
  new Stream({
    subscriptions: symbols.map((s) => `${s}@ticker`),
    onOpen: load,
    onMessage: ({ channel, market, data }) => { if (channel === "ticker") show({ market, ...data }); },
  });
  load();
} else document.documentElement.dataset.ready = "1";
