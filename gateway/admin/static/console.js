// smsgw web console: plain JavaScript over the admin API (/admin/api/…).
// The admin token is kept in sessionStorage (gone when the tab closes) and sent as
// "Authorization: Bearer"; every value shown is set with textContent, never as HTML.
"use strict";

const API = "/admin/api/";
const TOKEN_KEY = "smsgw.token";
const $ = (id) => document.getElementById(id);
const state = { whoami: null, poll: null, last: null, cursor: null, detailPoll: null };

// -- talking to the admin API --------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method: options.method || "GET", headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (options.raw) {
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    return response;
  }
  const body = await response.json().catch(() => null);
  if (response.status === 401) { signOut("Your session is no longer valid: sign in again."); }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// -- small DOM helpers ---------------------------------------------------------------

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = cell instanceof Node ? document.createElement("td") : el("td", cell);
    if (cell instanceof Node) td.appendChild(cell);
    tr.appendChild(td);
  }
  return tr;
}

function fill(tbody, rows, empty) {
  tbody.replaceChildren(...rows);
  if (!rows.length) {
    const td = el("td", empty, "muted");
    td.colSpan = tbody.closest("table").querySelectorAll("th").length;
    const tr = document.createElement("tr");
    tr.appendChild(td);
    tbody.appendChild(tr);
  }
}

function badge(text) { return el("span", text, "state " + text); }

function button(label, onClick, className = "small secondary") {
  const b = el("button", label, className);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function when(ms) { return ms ? new Date(ms).toLocaleString() : "–"; }

function flash(message) {
  const box = $("flash");
  box.textContent = message;
  box.hidden = !message;
}

function rate(value) { return value < 10 ? value.toFixed(2) : value.toFixed(0); }

function options(select, values, keepFirst = true) {
  const first = keepFirst ? [select.options[0]] : [];
  select.replaceChildren(...first, ...values.map((v) => { const o = el("option", v); o.value = v; return o; }));
}

// -- signing in and out ---------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("login-token").value.trim());
  $("login-error").textContent = "";
  try {
    await start();
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("login-error").textContent = e.status === 403 && /disabled/.test(e.message)
      ? "The admin API is disabled on this gateway: set [admin] token in its configuration."
      : "Sign-in failed: " + e.message;
  }
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.poll);
  clearInterval(state.detailPoll);
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

async function start() {
  state.whoami = await api("whoami");
  $("login").hidden = true;
  $("app").hidden = false;
  $("node-name").textContent = "node " + state.whoami.node;
  $("whoami").textContent = "signed in as " + state.whoami.name;
  options($("archive-account"), state.whoami.accounts);
  options($("archive-state"), state.whoami.states);
  options($("archive-origin"), state.whoami.origins);
  options($("send-account"), state.whoami.accounts, false);
  route();
}

// -- pages ----------------------------------------------------------------------------

const PAGES = { dashboard: showDashboard, archive: showArchive, send: () => {}, accounts: loadAccounts, sync: loadSync };

function route() {
  const name = (location.hash || "#dashboard").slice(1).split("/")[0];
  const page = PAGES[name] ? name : "dashboard";
  for (const key of Object.keys(PAGES)) {
    $("page-" + key).hidden = key !== page;
    $("nav-" + key).classList.toggle("active", key === page);
  }
  clearInterval(state.poll);
  flash("");
  PAGES[page]();
}

// -- dashboard: polled every 2 s; rates are differences between two polls

function showDashboard() {
  state.last = null;
  refreshDashboard();
  state.poll = setInterval(refreshDashboard, 2000);
}

async function refreshDashboard() {
  let data;
  try { data = await api("overview"); } catch (e) { flash("Dashboard: " + e.message); return; }
  flash("");
  const c = data.counters;
  const sum = (prefix) => Object.entries(c).filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
  const now = { at: data.time, in: c.accepted || 0, out: c.sent || 0, dlr: c.dlr_DELIVRD || 0,
                fail: sum("dlr_") - (c.dlr_DELIVRD || 0) - (c.dlr_ENROUTE || 0) - (c.dlr_ACCEPTD || 0), mo: c.mo || 0 };
  if (state.last && now.at > state.last.at) {
    const seconds = (now.at - state.last.at) / 1000;
    for (const key of ["in", "out", "dlr", "fail", "mo"]) $("rate-" + key).textContent = rate((now[key] - state.last[key]) / seconds);
  }
  state.last = now;
  $("dead-count").textContent = data.dead;
  $("totals").textContent = `${now.in} accepted, ${c.rejected || 0} rejected, ${now.out} sent, ${now.dlr} delivered, ${now.mo} MO`;
  fill($("connectors"), data.connectors.map(connectorRow), "No connectors configured.");
  fill($("queues"), data.queues.map((q) => row([q.provider, q.ready, q.delayed, q.inflight])), "No queues yet.");
  fill($("binds"), data.binds.map(bindRow), "No SMPP client is bound.");
}

function connectorRow(c) {
  const actions = document.createElement("span");
  if (c.controllable) {
    for (const action of ["start", "stop", "restart"]) {
      actions.appendChild(button(action, () => connectorAction(c.name, action)));
    }
  }
  return row([c.name, c.type || "", badge(c.state), c.capacity ?? "", c.last_error || "", actions]);
}

async function connectorAction(name, action) {
  try { await api(`connectors/${encodeURIComponent(name)}/${action}`, { method: "POST" }); refreshDashboard(); }
  catch (e) { flash(`${action} ${name}: ${e.message}`); }
}

function bindRow(b) {
  const kick = button("kick", async () => {
    if (!confirm(`Unbind ${b.account} (${b.peer})?`)) return;
    try { await api("binds/" + b.id.split("/").map(encodeURIComponent).join("/"), { method: "DELETE" }); refreshDashboard(); }
    catch (e) { flash("kick: " + e.message); }
  });
  return row([b.account, b.mode, b.peer, b.node, when(b.since), kick]);
}

// -- archive

function showArchive() {
  const key = decodeURIComponent(location.hash.split("/")[1] || "");
  if (!$("archive-results").children.length) searchArchive();   // the latest messages to start with
  if (key) openDetail(key);
}

function archiveParams() {
  const p = new URLSearchParams();
  const since = $("archive-since").value, until = $("archive-until").value;
  if (since) p.set("since", String(new Date(since).getTime()));
  if (until) p.set("until", String(new Date(until).getTime() + 59999));
  const fields = { direction: "archive-direction", number: "archive-number", account: "archive-account",
                   state: "archive-state", channel: "archive-channel", origin: "archive-origin", q: "archive-text" };
  for (const [name, id] of Object.entries(fields)) {
    const value = $(id).value.trim();
    if (value) p.set(name, value);
  }
  return p;
}

async function searchArchive(event, more = false) {
  if (event) event.preventDefault();
  const params = archiveParams();
  params.set("limit", "100");
  if (more && state.cursor) params.set("cursor", state.cursor);
  let page;
  try { page = await api("archive?" + params); } catch (e) { flash("Search: " + e.message); return; }
  flash("");
  const rows = page.messages.map(messageRow);
  if (more) $("archive-results").append(...rows); else fill($("archive-results"), rows, "No messages match.");
  state.cursor = page.next_cursor;
  $("archive-more").hidden = !page.next_cursor;
  const shown = $("archive-results").querySelectorAll("tr[data-key]").length;
  $("archive-summary").textContent = `${shown} message(s) shown` + (page.next_cursor ? " — more available" : "")
    + (page.partial ? " (search stopped early to stay fast; load more to go on)" : "");
}

function messageRow(m) {
  const tr = row([when(m.created), m.direction, m.account, m.from, m.to, m.text, badge(m.state), m.origin]);
  tr.children[5].className = "text";
  tr.dataset.key = m.key;
  tr.addEventListener("click", () => { location.hash = "archive/" + encodeURIComponent(m.key); });
  return tr;
}

async function openDetail(key) {
  clearInterval(state.detailPoll);
  await renderDetail(key);
  state.detailPoll = setInterval(async () => {
    const final = await renderDetail(key);
    if (final) clearInterval(state.detailPoll);
  }, 1500);
}

const FINAL = new Set(["DELIVERED", "EXPIRED", "DELETED", "UNDELIVERABLE", "REJECTED"]);

async function renderDetail(key) {
  let m;
  try { m = await api("archive/" + encodeURIComponent(key)); }
  catch (e) { flash("Message: " + e.message); clearInterval(state.detailPoll); return true; }
  $("detail").hidden = false;
  $("detail-id").textContent = m.id;
  const fields = [["State", badge(m.state)], ["DLR", m.stat + (m.error ? ` (error ${m.error})` : "")],
    ["Direction", m.direction], ["Account", m.account], ["From", m.from], ["To", m.to], ["Channel", m.channel],
    ["Text", m.text], ["Comment", m.comment || "–"], ["Parts", m.parts], ["Provider", m.provider || "–"],
    ["Node", m.origin], ["Created", when(m.created)], ["Attempts", m.attempts]];
  const items = [];
  for (const [label, value] of fields) {
    items.push(el("dt", label));
    const dd = el("dd", value instanceof Node ? null : value);
    if (value instanceof Node) dd.appendChild(value);
    if (label === "State") dd.id = "detail-state";
    items.push(dd);
  }
  $("detail-fields").replaceChildren(...items);
  $("detail-history").replaceChildren(...m.history.map((h) => el("li", `${h.state} — ${when(h.at)}`)));
  return FINAL.has(m.state);
}

function closeDetail() {
  clearInterval(state.detailPoll);
  $("detail").hidden = true;
  if (location.hash.startsWith("#archive/")) history.replaceState(null, "", "#archive");
}

async function exportArchive(format) {
  const params = archiveParams();
  params.set("format", format);
  flash("Exporting…");
  try {
    const response = await api("archive/export?" + params, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a");
    link.href = url;
    link.download = `smsgw-archive.${format}`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    flash("");
  } catch (e) { flash("Export: " + e.message); }
}

// -- send a test message

async function sendTest(event) {
  event.preventDefault();
  const out = $("send-result");
  out.textContent = "Sending…";
  try {
    const sent = await api("send", { method: "POST", body: {
      account: $("send-account").value, to: $("send-to").value, text: $("send-text").value, from: $("send-from").value } });
    out.replaceChildren(el("span", `Accepted as ${sent.id} (via ${sent.provider}). `));
    const link = el("a", "Follow it in the archive");
    link.id = "send-follow";
    link.href = "#archive/" + encodeURIComponent(sent.id);
    out.appendChild(link);
  } catch (e) {
    out.textContent = "Not sent: " + e.message;
  }
}

// -- accounts

async function loadAccounts() {
  let data;
  try { data = await api("accounts"); } catch (e) { flash("Accounts: " + e.message); return; }
  fill($("accounts"), data.accounts.map((a) => row([a.name, a.enabled ? "yes" : "no", a.throughput || "unlimited",
    a.balance === null ? "unlimited" : a.balance, a.api_keys,
    button("edit", () => editAccount(a))])), "No accounts.");
}

function editAccount(a) {
  const form = $("account-form");
  form.hidden = false;
  form.dataset.mode = a ? "edit" : "new";
  $("account-title").textContent = a ? "Account " + a.name : "New account";
  $("account-name").value = a ? a.name : "";
  $("account-name").disabled = !!a;
  $("account-enabled").checked = a ? a.enabled : true;
  $("account-password").value = "";
  $("account-keys").value = "";
  $("account-throughput").value = a ? a.throughput : 30;
  $("account-balance").value = a && a.balance !== null ? a.balance : "";
  $("account-tariff").value = a ? Object.entries(a.tariff).map(([p, v]) => `${p}:${v}`).join(", ") : "";
  $("account-ips").value = a ? a.allowed_ips.join(", ") : "";
  $("account-dlr").value = a ? a.dlr_url : "";
  $("account-error").textContent = "";
}

async function saveAccount(event) {
  event.preventDefault();
  const form = $("account-form");
  const body = { enabled: $("account-enabled").checked, throughput: Number($("account-throughput").value || 0),
    balance: $("account-balance").value.trim() || null, tariff: $("account-tariff").value,
    allowed_ips: $("account-ips").value, dlr_url: $("account-dlr").value };
  if ($("account-password").value) body.password = $("account-password").value;
  if ($("account-keys").value.trim()) body.api_keys = $("account-keys").value;
  const name = $("account-name").value.trim();
  try {
    if (form.dataset.mode === "new") await api("accounts", { method: "POST", body: { name, ...body } });
    else await api("accounts/" + encodeURIComponent(name), { method: "PATCH", body });
    form.hidden = true;
    loadAccounts();
  } catch (e) {
    $("account-error").textContent = e.message;
  }
}

// -- sync

async function loadSync() {
  let data;
  try { data = await api("sync"); } catch (e) { flash("Sync: " + e.message); return; }
  fill($("sync-nodes"), data.nodes.map((n) => row([n.node, n.url, when(n.last_run), n.last_added, n.total_added,
    n.last_error || ""])), "No [sync] nodes configured.");
}

async function syncNow() {
  $("sync-result").textContent = "Pulling…";
  try {
    const data = await api("sync", { method: "POST" });
    $("sync-result").textContent = data.results.map((r) => r.error ? `${r.node}: failed (${r.error})`
      : `${r.node}: received ${r.added} messages` + (r.updated ? `, ${r.updated} updated` : "")).join("; ");
  } catch (e) { $("sync-result").textContent = "Sync: " + e.message; }
  loadSync();
}

// -- wiring

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", () => signOut());
  $("archive-form").addEventListener("submit", searchArchive);
  $("archive-more").addEventListener("click", () => searchArchive(null, true));
  $("archive-csv").addEventListener("click", () => exportArchive("csv"));
  $("archive-jsonl").addEventListener("click", () => exportArchive("jsonl"));
  $("detail-close").addEventListener("click", closeDetail);
  $("send-form").addEventListener("submit", sendTest);
  $("account-new").addEventListener("click", () => editAccount(null));
  $("account-form").addEventListener("submit", saveAccount);
  $("account-cancel").addEventListener("click", () => { $("account-form").hidden = true; });
  $("sync-now").addEventListener("click", syncNow);
  window.addEventListener("hashchange", () => { if (state.whoami) route(); });
  if (sessionStorage.getItem(TOKEN_KEY)) start().catch(() => signOut());
  else signOut();
});
