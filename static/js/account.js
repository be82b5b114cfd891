// Account overview: recent sign-ins and security events from the accounts API
// (/api/v1/security-events; there is no API listing live sessions, see docs/UI.md).
import { API, getJSON, rows, dateTime, el, emptyRow } from "./lib.js";

const $ = (id) => document.getElementById(id);
const SIGN_INS = new Set(["login_succeeded", "new_device_login"]);
const label = (kind) => { const k = String(kind || "").replace(/_/g, " "); return k.charAt(0).toUpperCase() + k.slice(1); };
function device(ua) {
  ua = ua || "";
  const browser = /Edg\//.test(ua) ? "Edge" : /Chrome\/|Chromium\//.test(ua) ? "Chrome" : /Firefox\//.test(ua) ? "Firefox" : /Safari\//.test(ua) ? "Safari" : "";
  const os = /Windows/.test(ua) ? "Windows" : /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  return [browser, os].filter(Boolean).join(" on ") || ua.slice(0, 40) || "Unknown device";
}
async function load() {
  const r = await getJSON(`${API.securityEvents}?limit=100`);
  const events = r.ok ? rows(r.data) : [];
  const signIns = events.filter((x) => SIGN_INS.has(x.kind)).slice(0, 8);
  if (!signIns.length) emptyRow($("sessions"), 3, r.ok ? "No sign-ins recorded yet." : "Sign-ins could not be loaded.");
  else $("sessions").replaceChildren(...signIns.map((x) => el("tr", {},
    el("td", { text: device(x.user_agent) + (x.kind === "new_device_login" ? " (new device)" : ""), title: x.user_agent || "" }),
    el("td", { class: "mono", text: x.ip || "" }), el("td", { text: dateTime(x.created) }))));
  if (!events.length) emptyRow($("events"), 3, r.ok ? "No security events yet." : "Events could not be loaded.");
  else $("events").replaceChildren(...events.slice(0, 12).map((x) => el("tr", {},
    el("td", { text: dateTime(x.created) }), el("td", { text: label(x.kind) }), el("td", { class: "mono", text: x.ip ?? "" }))));
  document.documentElement.dataset.ready = "1";
}
load();
