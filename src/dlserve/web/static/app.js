// dlserve dashboard: plain JavaScript over the same public API as every other client.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("dlserve-token"), views: [], countTimer: null, countSeq: 0, polling: null, listPolling: null };

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.detail)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
  // The most useful line: a field detail (a query error names its position), else the message.
  get explanation() {
    const detail = (this.body.details || [])[0];
    return detail ? `${detail.field}: ${detail.message}` : this.message;
  }
}

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401 && state.token) signOut("Your session has ended; sign in again.");
    throw new ApiError(response.status, data);
  }
  return data;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function formatBytes(bytes) {
  if (bytes == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

// -- sign in -------------------------------------------------------------------------------------

async function startSession(token) {
  state.token = token;
  const account = await api("GET", "/v4/account");
  sessionStorage.setItem("dlserve-token", token);
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  showAccount(account);
  state.views = await api("GET", "/v4/views");
  fillViews();
  refreshDownloads();
  refreshSchedules();
  refreshMedia();
  clearInterval(state.polling);
  clearInterval(state.listPolling);
  state.polling = setInterval(() => { refreshMedia(); refreshAccount(); }, 1500);
  // Active downloads are followed by long polls (followDownload); the list itself changes
  // only when a download is started (refreshed then) or elsewhere (this slow refresh).
  state.listPolling = setInterval(() => { refreshDownloads(); refreshSchedules(); }, 10000);
  $("query").focus();
}

function signOut(message = "") {
  state.token = null;
  sessionStorage.removeItem("dlserve-token");
  sessionStorage.removeItem("dlserve-token-minted");
  clearInterval(state.polling);
  clearInterval(state.listPolling);
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("account-line").textContent = "";
  $("sign-in-error").textContent = message;
}

function showAccount(account) {
  $("account-line").textContent = `${account.email} · ${account.available_credits.toLocaleString()} credits`;
}

async function refreshAccount() {
  try { showAccount(await api("GET", "/v4/account")); } catch (_) { /* shown on the next action */ }
}

$("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    const { token } = await api("POST", "/v4/auth", { email: $("email").value, password: $("password").value });
    await startSession(token);
    sessionStorage.setItem("dlserve-token-minted", "1");
  } catch (error) {
    state.token = null;
    $("sign-in-error").textContent = error.explanation || String(error);
  }
});

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try { await startSession($("token").value.trim()); } catch (error) {
    state.token = null;
    $("sign-in-error").textContent = error.explanation || String(error);
  }
});

// A token this page minted by signing in with a password is revoked on sign-out; a pasted API token
// is only forgotten (scripts may still use it).
$("sign-out").addEventListener("click", async () => {
  clearInterval(state.polling);  // no refresh may race the revocation (it would answer 401)
  if (sessionStorage.getItem("dlserve-token-minted") === "1") {
    try { await api("DELETE", "/v4/auth"); } catch (_) { /* already invalid: nothing to revoke */ }
  }
  signOut();
});

// -- tabs (arrow keys move between them, as the ARIA tabs pattern expects) ---------------------------

const tabs = [$("tab-data"), $("tab-media")];
function selectTab(tab) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
  tab.focus();
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      selectTab(tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length]);
    }
  });
}

// -- search: live count while typing, preview on submit --------------------------------------------

function fillViews() {
  const type = $("data-type").value;
  const select = $("view");
  const views = state.views.filter((v) => v.data_type === type);
  select.replaceChildren(...views.map((v) => el("option", { value: v.name, textContent: v.name })));
  fillFieldPicker(views.find((v) => v.all_fields) || views[0]);
}

// -- field selection: a comma list the picker appends to; sent as `view` (an array) when set -----

function fillFieldPicker(view) {
  const names = [];
  for (const field of view ? view.fields : []) {
    names.push(field);
    for (const sub of (view.sub_fields || {})[field] || []) names.push(`${field}.${sub}`);
  }
  $("field-picker").replaceChildren(
    el("option", { value: "", textContent: "choose…" }),
    ...names.map((name) => el("option", { value: name, textContent: name })),
  );
  $("fields").value = "";
  syncViewChoice();
}

function chosenFields() {
  return $("fields").value.split(",").map((name) => name.trim()).filter((name) => name);
}

function syncViewChoice() {
  $("view").disabled = chosenFields().length > 0;  // a field list replaces the view
}

$("field-picker").addEventListener("change", () => {
  const picked = $("field-picker").value;
  const fields = chosenFields();
  if (picked && !fields.includes(picked)) $("fields").value = [...fields, picked].join(",");
  $("field-picker").value = "";
  syncViewChoice();
});
$("fields").addEventListener("input", syncViewChoice);

function scheduleCount() {
  clearTimeout(state.countTimer);
  state.countTimer = setTimeout(runCount, 300);
}

async function runCount() {
  const seq = ++state.countSeq;  // only the newest answer is shown
  const query = $("query").value.trim() || "*";
  try {
    const result = await api("POST", `/v4/${$("data-type").value}/search`, { query, num_records: 0 });
    if (seq !== state.countSeq) return;
    $("count").textContent = `${result.num_found.toLocaleString()} matching records`;
    $("query-error").textContent = "";
    $("query").removeAttribute("aria-invalid");
  } catch (error) {
    if (seq !== state.countSeq) return;
    $("count").textContent = "";
    $("query-error").textContent = error.explanation;
    $("query").setAttribute("aria-invalid", "true");
  }
}

$("query").addEventListener("input", scheduleCount);
$("data-type").addEventListener("change", () => { fillViews(); scheduleCount(); });

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = { query: $("query").value.trim() || "*", num_records: 10 };
    if (chosenFields().length) body.view = chosenFields();
    const result = await api("POST", `/v4/${$("data-type").value}/search`, body);
    renderPreview(result.records);
    refreshAccount();
  } catch (error) {
    $("query-error").textContent = error.explanation;
  }
});

function cellText(value) {
  if (value == null) return "";
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object")) return value.join(", ");
    // one listed sub-field (a field list's reviews.rating): its values
    const single = (v) => v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length <= 1;
    if (value.every(single)) return value.map((v) => cellText(Object.values(v)[0])).filter((t) => t).join(", ");
    return `${value.length} items`;
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function renderPreview(records) {
  const table = $("preview");
  if (!records.length) { table.replaceChildren(el("caption", { textContent: "No records match." })); return; }
  const columns = [];
  for (const record of records) for (const key of Object.keys(record)) if (!columns.includes(key) && columns.length < 8) columns.push(key);
  const head = el("tr", {}, ...columns.map((c) => el("th", { scope: "col", textContent: c })));
  const rows = records.map((r) => el("tr", {}, ...columns.map((c) => el("td", { textContent: cellText(r[c]) }))));
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

// -- downloads -------------------------------------------------------------------------------------

$("download-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("download-error").textContent = "";
  const body = { query: $("query").value.trim() || "*", download: true, format: $("format").value, view: $("view").value };
  if (chosenFields().length) body.view = chosenFields();
  if ($("records").value) body.num_records = Number($("records").value);
  if ($("gzip").checked) body.compress = "gzip";
  try {
    await api("POST", `/v4/${$("data-type").value}/search`, body);
    refreshDownloads();
  } catch (error) {
    $("download-error").textContent = error.explanation;
  }
});

function progressOf(d) {
  const total = d.progress ? d.progress.total : d.num_records;
  const done = d.progress ? d.progress.done : d.num_downloaded;
  return { done, total };
}

function renderDownload(d) {
  const { done, total } = progressOf(d);
  const active = d.status === "queued" || d.status === "in_progress";
  const title = el("strong", { textContent: `#${d.id} ${d.data_type}: ${d.query}` });
  const status = el("span", { className: `status ${d.status}`, textContent: d.status.replace("_", " ") });
  const head = el("div", { className: "head" }, title, status);
  if (active) {
    const cancel = el("button", { type: "button", className: "secondary", textContent: "Cancel" });
    cancel.setAttribute("aria-label", `Cancel download ${d.id}`);
    cancel.addEventListener("click", async () => {
      try { await api("DELETE", `/v4/downloads/${d.id}`); refreshDownloads(); } catch (error) { $("download-error").textContent = error.explanation; }
    });
    head.append(cancel);
  }
  // A finished download of every match can be refreshed: a delta download (since) of what was
  // added or changed since, plus the ids deleted since (docs/api.md, "Delta downloads").
  if (d.status === "completed" && (d.since != null || d.num_records === d.num_found)) {
    const refresh = el("button", { type: "button", className: "secondary", textContent: "Refresh" });
    refresh.setAttribute("aria-label", `Refresh download ${d.id}: download what changed since`);
    refresh.addEventListener("click", async () => {
      $("download-error").textContent = "";
      const body = { query: d.query, download: true, format: d.format, view: d.view, since: d.id };
      if (d.compress) body.compress = d.compress;
      try { await api("POST", `/v4/${d.data_type}/search`, body); refreshDownloads(); } catch (error) { $("download-error").textContent = error.explanation; }
    });
    head.append(refresh);
  }
  const bar = el("progress", { max: Math.max(total || 0, 1), value: done || 0 });
  bar.setAttribute("aria-label", `Download ${d.id} progress`);
  const eta = d.progress && d.progress.eta_s != null && active ? ` · about ${Math.ceil(d.progress.eta_s)} s left` : "";
  const line = el("div", { className: "muted", textContent: `${(done || 0).toLocaleString()} of ${(total || 0).toLocaleString()} records · ${d.format}${eta}` });
  const files = el("ul", { className: "files" }, ...d.results.map((f) =>
    el("li", {}, el("a", { href: f.url, textContent: f.name || "file", download: f.name || "" }), ` (${formatBytes(f.bytes)}, ${(f.records || 0).toLocaleString()} ${f.kind === "deleted" ? "deleted ids" : "records"})`)));
  const item = el("li", { id: `download-${d.id}` }, head, bar, line);
  if (d.since != null) {
    item.append(el("div", { className: "muted delta", textContent: `changes since #${d.since}: ${(d.num_added || 0).toLocaleString()} added, ${(d.num_changed || 0).toLocaleString()} changed, ${(d.num_deleted || 0).toLocaleString()} deleted` }));
  }
  item.append(files);
  if (d.error) item.append(el("p", { className: "error", textContent: d.error }));
  return item;
}

async function refreshDownloads() {
  if (!state.token) return;
  try {
    const { records } = await api("GET", "/v4/downloads?limit=20");
    $("downloads").replaceChildren(...records.map(renderDownload));
    for (const d of records) if (d.status === "queued" || d.status === "in_progress") followDownload(d.id);
  } catch (_) { /* the next poll tries again */ }
}

// Long polling (docs/api.md): the server holds each request until the download changes (or 25 s
// pass, then 304), so an active download's progress shows as it happens at a request per change.
const followed = new Set();

async function followDownload(id) {
  if (followed.has(id)) return;
  followed.add(id);
  let etag = null;
  try {
    while (state.token) {
      const headers = { Authorization: `Bearer ${state.token}` };
      if (etag) headers["If-None-Match"] = etag;
      const started = Date.now();
      const response = await fetch(`/v4/downloads/${id}${etag ? "?wait=25" : ""}`, { headers });
      if (response.status === 304) {
        // Unchanged. From dlserve that comes after the wait; anything quicker waits a second here.
        if (Date.now() - started < 1000) await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (!response.ok) break;
      etag = response.headers.get("ETag");
      const d = await response.json();
      const shown = $(`download-${id}`);
      if (shown) shown.replaceWith(renderDownload(d));
      if (!(d.status === "queued" || d.status === "in_progress")) { refreshAccount(); break; }
    }
  } catch (_) { /* the next list refresh follows it again */ } finally {
    followed.delete(id);
  }
}

// -- schedules: the current search as a download every period (docs/api.md) -------------------------

$("schedule-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("schedule-error").textContent = "";
  const body = {
    data_type: $("data-type").value, query: $("query").value.trim() || "*", format: $("format").value,
    view: $("view").value || null, every: $("schedule-every").value.trim(), delta: $("schedule-delta").checked,
  };
  try {
    await api("POST", "/v4/schedules", body);
    refreshSchedules();
  } catch (error) {
    $("schedule-error").textContent = error.explanation;
  }
});

function renderSchedule(s) {
  const title = el("strong", { textContent: `#${s.id} ${s.data_type}: ${s.query}` });
  const every = el("span", { className: "status", textContent: `every ${s.every}${s.delta ? " · delta" : ""}` });
  const remove = el("button", { type: "button", className: "secondary", textContent: "Delete" });
  remove.setAttribute("aria-label", `Delete schedule ${s.id}`);
  remove.addEventListener("click", async () => {
    try { await api("DELETE", `/v4/schedules/${s.id}`); refreshSchedules(); } catch (error) { $("schedule-error").textContent = error.explanation; }
  });
  const head = el("div", { className: "head" }, title, every, remove);
  const next = s.next_run_at ? new Date(s.next_run_at).toLocaleString() : "–";
  const line = el("div", { className: "muted", textContent: `${s.format} · next run ${next}` });
  return el("li", { id: `schedule-${s.id}` }, head, line);
}

async function refreshSchedules() {
  if (!state.token) return;
  try {
    const { records } = await api("GET", "/v4/schedules");
    $("schedules").replaceChildren(...records.map(renderSchedule));
    if (!records.length) $("schedules").append(el("li", { className: "muted", textContent: "No schedules yet." }));
  } catch (_) { /* the next refresh tries again */ }
}

// -- media -----------------------------------------------------------------------------------------

$("media-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("media-error").textContent = "";
  try {
    await api("POST", "/api/download", { url: $("media-url").value, quality: $("media-quality").value });
    $("media-url").value = "";
    refreshMedia();
  } catch (error) {
    $("media-error").textContent = error.explanation;
  }
});

function renderMedia(m) {
  const head = el("div", { className: "head" },
    el("strong", { textContent: m.title || m.url }), el("span", { className: `status ${m.status}`, textContent: m.status }));
  const bar = el("progress", { max: 100, value: m.progress || 0 });
  bar.setAttribute("aria-label", `Media ${m.title || m.id} progress`);
  const item = el("li", { id: `media-${m.id}` }, head, bar,
    el("div", { className: "muted", textContent: `${m.quality} · ${formatBytes(m.downloaded_bytes)}${m.total_bytes ? ` of ${formatBytes(m.total_bytes)}` : ""}` }));
  if (m.status === "completed") {
    const link = el("a", { href: `/api/download/${m.id}/file`, textContent: m.filename || "file", download: m.filename || "" });
    link.addEventListener("click", (event) => { event.preventDefault(); saveMediaFile(m, link); });
    item.append(link);
  }
  if (m.error) item.append(el("p", { className: "error", textContent: m.error }));
  return item;
}

// A plain link would send no token (the file would answer 404 for a signed-in user's media), so the
// file is fetched with the token and handed to the browser as a blob download.
async function saveMediaFile(m, link) {
  $("media-error").textContent = "";
  try {
    const response = await fetch(link.href, { headers: state.token ? { Authorization: `Bearer ${state.token}` } : {} });
    if (!response.ok) {
      const text = await response.text();
      throw new ApiError(response.status, text ? JSON.parse(text) : null);
    }
    const url = URL.createObjectURL(await response.blob());
    const save = el("a", { href: url, download: m.filename || "download" });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    $("media-error").textContent = error.explanation || error.message;
  }
}

async function refreshMedia() {
  if (!state.token) return;
  try {
    const items = await api("GET", "/api/downloads");
    $("media-list").replaceChildren(...items.map(renderMedia));
  } catch (_) { /* media may be disabled on this server */ }
}

if (state.token) startSession(state.token).catch(() => signOut());
