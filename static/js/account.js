// Account overview: active sessions and recent security events from the accounts API.
import { API, getJSON, rows, dateTime, el, emptyRow } from "./lib.js";

const $ = (id) => document.getElementById(id);
async function load() {
  const [s, e] = await Promise.all([getJSON(API.sessions), getJSON(API.securityEvents)]);
  const sessions = s.ok ? rows(s.data) : [];
  if (!sessions.length) emptyRow($("sessions"), 3, s.ok ? "No other sessions." : "Sessions are listed on the security page.");
  else $("sessions").replaceChildren(...sessions.map((x) => el("tr", {}, el("td", { text: (x.user_agent || x.device || "").slice(0, 60) + (x.current ? " (this one)" : "") }), el("td", { text: x.ip || "" }), el("td", { text: dateTime(x.last_seen ?? x.last_activity ?? x.created) }))));
  const events = e.ok ? rows(e.data) : [];
  if (!events.length) emptyRow($("events"), 3, e.ok ? "No security events." : "Events are listed on the security page.");
  else $("events").replaceChildren(...events.slice(0, 20).map((x) => el("tr", {}, el("td", { text: dateTime(x.created ?? x.created_at ?? x.time) }), el("td", { text: x.kind ?? x.event }), el("td", { text: x.ip ?? "" }))));
  document.documentElement.dataset.ready = "1";
}
load();
