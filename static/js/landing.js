// Landing page: the 24h ticker of every market, live over the stream.
import { API, Stream, getJSON, rows, fmt, dec, dzero, pageConfig } from "./lib.js";

const cfg = pageConfig();
const symbols = (cfg.markets || []).map((m) => m.symbol);
const quotes = Object.fromEntries((cfg.markets || []).map((m) => [m.symbol, m.quote]));
const places = Object.fromEntries((cfg.markets || []).map((m) => [m.symbol, (m.tick_size.split(".")[1] || "").length]));

function show(t) {
  const sym = t.market ?? t.symbol;
  const tr = document.querySelector(`tr[data-market="${sym}"]`);
  if (!tr) return;
  const set = (f, text, cls) => { const td = tr.querySelector(`[data-f="${f}"]`); td.textContent = text; if (cls !== undefined) td.className = `num ${cls}`; };
  const last = t.last_price ?? t.lastPrice ?? t.last;
  const ch = t.price_change_percent ?? t.priceChangePercent ?? t.change_percent;
  // No trade in 24 h (last is null) or no change: neutral, never a green "+0.00%".
  const d = last === undefined || last === null ? null : dec(ch);
  const dir = !d || dzero(d) ? "" : d.v < 0n ? "down" : "up";
  if (last !== undefined && last !== null) set("last", fmt(last, places[sym]), dir);
  set("change", d ? `${dir === "up" ? "+" : ""}${fmt(ch, 2)}%` : "–", dir);
  const hi = t.high_price ?? t.highPrice ?? t.high, lo = t.low_price ?? t.lowPrice ?? t.low;
  if (hi !== undefined && hi !== null) tr.querySelector('[data-f="high"]').textContent = fmt(hi, places[sym]);
  if (lo !== undefined && lo !== null) tr.querySelector('[data-f="low"]').textContent = fmt(lo, places[sym]);
  const vol = t.quote_volume ?? t.quoteVolume;
  if (vol !== undefined && vol !== null) set("volume", `${fmt(vol, 2)} ${quotes[sym] || ""}`, "");
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
