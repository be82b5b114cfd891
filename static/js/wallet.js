// Wallet page: balances (live), deposit address, simulated deposit (DEBUG), withdrawal
// with the address book and the 2FA step, and the deposit/withdrawal/ledger history.
import { API, Stream, api, getJSON, rows, fmt, dec, dadd, dstr, dateTime, el, emptyRow, pageConfig } from "./lib.js";

const cfg = pageConfig();
const $ = (id) => document.getElementById(id);
const assets = Object.fromEntries((cfg.assets || []).map((a) => [a.symbol, a]));

function showBalance(b) {
  const asset = b.asset ?? b.symbol;
  const tr = document.querySelector(`#balances tr[data-asset="${asset}"]`); if (!tr) return;
  const p = assets[asset] ? assets[asset].precision : 8;
  tr.querySelector('[data-f="available"]').textContent = fmt(b.available ?? b.free ?? "0", p);
  tr.querySelector('[data-f="locked"]').textContent = fmt(b.locked ?? "0", p);
  const total = b.total ?? dstr(dadd(dec(b.available ?? b.free ?? "0") || dec("0"), dec(b.locked ?? "0") || dec("0")));
  tr.querySelector('[data-f="total"]').textContent = fmt(total, p);
}
async function loadBalances() {
  const r = await getJSON(API.balances);
  if (r.ok) rows(r.data).forEach(showBalance);
  for (const tr of document.querySelectorAll("#balances tr[data-asset]")) for (const td of tr.querySelectorAll(".num")) if (td.textContent === "–") td.textContent = "0";
}
async function loadAddress() {
  const a = $("d-asset").value;
  $("d-address").textContent = "…";
  const r = await getJSON(API.depositAddress(a));
  $("d-address").textContent = r.ok ? (r.data.address ?? "–") : (r.status === 404 ? "Deposit addresses are not available yet." : r.data.message);
}
function fieldErrors(form, data) {
  let placed = false;
  for (const n of form.querySelectorAll("[data-error-for]")) n.textContent = "";
  for (const n of form.querySelectorAll("[aria-invalid]")) n.removeAttribute("aria-invalid");
  for (const [f, v] of Object.entries((data && data.fields) || {})) {
    const name = f === "otp_code" || f === "code" || f === "totp" ? "otp" : f;
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    if (slot) { slot.textContent = typeof v === "string" ? v : v.message; form.querySelector(`[name="${name}"]`)?.setAttribute("aria-invalid", "true"); placed = true; }
  }
  return placed;
}
function updateFee() {
  const a = assets[$("w-asset").value];
  $("w-fee").textContent = a ? `Network fee ${a.withdrawal_fee} ${a.symbol} · minimum ${a.min_withdrawal} ${a.symbol}` : "";
}
let cooldownTimer = null;
function showCooldown(untilMs) {
  clearInterval(cooldownTimer);
  const node = $("w-cooldown");
  const tick = () => {
    const left = Math.ceil((untilMs - Date.now()) / 1000);
    if (left <= 0) { node.hidden = true; clearInterval(cooldownTimer); return; }
    node.hidden = false; node.textContent = `Withdrawals are paused for ${Math.floor(left / 3600)}h ${Math.floor((left % 3600) / 60)}m ${left % 60}s (security cool-down after an account change).`;
  };
  tick(); cooldownTimer = setInterval(tick, 1000);
}
async function withdraw(e) {
  e.preventDefault();
  const f = $("wd-form");
  $("w-err").hidden = true; $("w-ok").hidden = true;
  const body = { asset: $("w-asset").value, address: $("w-address").value.trim(), amount: $("w-amount").value.trim(), otp_code: $("w-otp").value.trim() };
  const missing = {};
  if (!body.address) missing.address = "Enter an address.";
  if (!body.amount) missing.amount = "Enter an amount.";
  if (!body.otp_code) missing.otp = "Enter the code from your authenticator app.";
  if (Object.keys(missing).length) { fieldErrors(f, { fields: missing }); f.querySelector('[aria-invalid="true"]')?.focus(); return; }
  fieldErrors(f, {});  // the previous attempt's messages go while this one is sent
  const btn = f.querySelector('button[type="submit"]'); btn.disabled = true;
  const r = await api("POST", API.withdrawals, body);
  btn.disabled = false;
  if (!r.ok) {
    const placed = fieldErrors(f, r.data);
    if (r.data.code === "otp_invalid" || r.data.code === "otp_required") fieldErrors(f, { fields: { otp: r.data.message } });
    else if (!placed || r.data.message) { $("w-err").textContent = r.data.message; $("w-err").hidden = false; }
    const until = r.data.cooldown_until ?? r.data.fields?.cooldown_until;
    if (until) showCooldown(Date.parse(until));
    return;
  }
  fieldErrors(f, {});
  $("w-ok").textContent = `Withdrawal requested: ${r.data.amount ?? body.amount} ${body.asset}${r.data.status ? ` (${r.data.status})` : ""}.`; $("w-ok").hidden = false;
  $("w-amount").value = ""; $("w-otp").value = "";
  loadBalances(); loadHistory();
}
let book = [];
async function loadBook() {
  const r = await getJSON(API.addressBook);
  book = r.ok ? rows(r.data) : [];
  const list = $("ab-list");
  list.classList.toggle("empty-list", !book.length);
  if (!book.length) list.replaceChildren(el("li", { text: r.ok ? "No saved addresses yet." : "Address book unavailable." }));
  else list.replaceChildren(...book.map((b) => {
    const wait = b.usable_after && Date.parse(b.usable_after) > Date.now();
    return el("li", {}, el("strong", { text: b.label || "—" }), " ",
      el("span", { class: "mono", text: `${b.asset ? b.asset + " " : ""}${b.address}` }), " ",
      wait ? el("span", { class: "badge", text: `usable from ${dateTime(b.usable_after)}` }) : el("span", { class: "badge ok", text: "ready" }));
  }));
  const sel = $("w-book");
  sel.replaceChildren(el("option", { value: "", text: "—" }), ...book.map((b, i) => el("option", { value: String(i), text: `${b.label} (${b.address.slice(0, 12)}…)` })));
}
async function saveBook(e) {
  e.preventDefault();
  const f = $("ab-form");
  const r = await api("POST", API.addressBook, { label: $("ab-label").value.trim(), address: $("ab-address").value.trim(), asset: $("w-asset").value });
  if (!r.ok) { if (!fieldErrors(f, r.data)) { $("ab-err").textContent = r.data.message; $("ab-err").hidden = false; } return; }
  $("ab-err").hidden = true; f.reset(); loadBook();
}
async function loadHistory() {
  const [d, w, l] = await Promise.all([getJSON(API.deposits), getJSON(API.withdrawals), getJSON(API.ledger)]);
  const dep = d.ok ? rows(d.data) : [];
  if (!dep.length) emptyRow($("h-deposits"), 5, "No deposits yet.");
  else $("h-deposits").replaceChildren(...dep.map((x) => el("tr", {}, el("td", { text: dateTime(x.created ?? x.created_at) }), el("td", { text: x.asset }), el("td", { class: "num", text: fmt(x.amount, 8) }), el("td", { text: `${x.confirmations ?? "–"}` }), el("td", { text: x.status }))));
  const wd = w.ok ? rows(w.data) : [];
  if (!wd.length) emptyRow($("h-withdrawals"), 6, "No withdrawals yet.");
  else $("h-withdrawals").replaceChildren(...wd.map((x) => el("tr", {}, el("td", { text: dateTime(x.created ?? x.created_at) }), el("td", { text: x.asset }), el("td", { class: "num", text: fmt(x.amount, 8) }), el("td", { class: "num", text: fmt(x.fee ?? "0", 8) }), el("td", { class: "mono", text: x.address }), el("td", { text: x.status }))));
  const led = l.ok ? rows(l.data) : [];
  if (!led.length) emptyRow($("h-ledger"), 5, "No ledger entries yet.");
  else $("h-ledger").replaceChildren(...led.slice(0, 200).map((x) => el("tr", {}, el("td", { text: dateTime(x.created ?? x.created_at ?? x.time) }), el("td", { text: x.asset }), el("td", { class: `num ${String(x.amount).startsWith("-") ? "down" : "up"}`, text: fmt(x.amount, 8) }), el("td", { text: x.account ?? x.kind ?? "" }), el("td", { text: x.reason ?? x.memo ?? x.ref ?? "" }))));
  const cd = w.ok && w.data && w.data.cooldown_until; if (cd) showCooldown(Date.parse(cd));
}

$("d-asset").addEventListener("change", loadAddress);
$("w-asset").addEventListener("change", updateFee);
$("w-book").addEventListener("change", (e) => { const b = book[Number(e.target.value)]; if (b) { $("w-address").value = b.address; if (b.asset) { $("w-asset").value = b.asset; updateFee(); } } });
$("wd-form").addEventListener("submit", withdraw);
$("ab-form").addEventListener("submit", saveBook);
document.querySelector("#balances").addEventListener("click", (e) => {
  const b = e.target.closest("[data-pick]"); if (!b) return;
  if (b.dataset.action === "deposit") { $("d-asset").value = b.dataset.pick; loadAddress(); $("d-asset").focus(); }
  else { $("w-asset").value = b.dataset.pick; updateFee(); $("w-address").focus(); }
});
const sim = $("simulate");
if (sim) sim.addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await api("POST", API.simulateDeposit, { asset: $("d-asset").value, amount: $("s-amount").value.trim() });
  $("s-ok").hidden = !r.ok; $("s-err").hidden = r.ok;
  if (r.ok) { $("s-ok").textContent = `Deposit of ${$("s-amount").value} ${$("d-asset").value} simulated.`; loadBalances(); loadHistory(); }
  else if (!fieldErrors(sim, r.data)) $("s-err").textContent = r.data.message;
});
const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(t) { for (const x of tabs) { const on = x === t; x.setAttribute("aria-selected", String(on)); x.tabIndex = on ? 0 : -1; $(x.getAttribute("aria-controls")).hidden = !on; } t.focus(); }
for (const t of tabs) {
  t.addEventListener("click", () => selectTab(t));
  t.addEventListener("keydown", (e) => { const i = tabs.indexOf(t); if (e.key === "ArrowRight") selectTab(tabs[(i + 1) % tabs.length]); if (e.key === "ArrowLeft") selectTab(tabs[(i - 1 + tabs.length) % tabs.length]); });
}
new Stream({
  onOpen: loadBalances,
  onMessage: ({ channel, data }) => { if (channel === "private" && data && data.type === "balance") showBalance(data); },
});
updateFee();
Promise.all([loadBalances(), loadAddress(), loadBook(), loadHistory()]).then(() => { document.documentElement.dataset.ready = "1"; });
