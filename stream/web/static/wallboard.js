// Wallboard page: one tile per queue, fed by the server's Server-Sent Events (/events).
// Plain JS, no build step, no external resources. Query parameters:
//   ?queues=billing,sales  only these queues        ?team=Front%20office  only this team
//   ?rotate=15             page through the tiles every 15 s (&per=6 tiles a page)
//
// Drawing is incremental: a snapshot only marks its queue dirty; once per animation frame the
// dirty tiles are compared with what they show and only the text nodes and attributes whose
// value changed are written. Tiles are created, moved or removed only when the set of queues
// shown changes. Data reaches the DOM through text nodes and dataset only, never as markup.
"use strict";

const FIELDS = [
  ["calls_waiting", "Calls waiting", "count"],
  ["oldest_call_waiting_seconds", "Oldest wait", "duration"],
  ["service_level_today", "SL today", "percent"],
  ["average_speed_of_answer_today_seconds", "ASA today", "duration"],
  ["abandon_rate_today", "Abandoned today", "percent"],
  ["first_response_within_target_today", "FRT in target", "percent"],
  ["backlog", "Backlog", "count"],
  ["agents_available", "Agents available", "count"],
  ["ewt_recent_seconds", "EWT (last calls)", "duration"],
  ["ewt_erlang_c_seconds", "EWT (Erlang C)", "duration"],
  ["agents_required", "Agents needed", "count"],
]; // "On queue", beside "Agents needed", is among the agent tiles (wallboard-agents.js)
const NO_DATA = "—";
const HIDDEN_FLUSH_MS = 1000; // no animation frames in a hidden tab: draw this often instead
const REFUSED_RETRY_MS = 10000; // the server refused the stream (e.g. full): retry after this

const params = new URLSearchParams(window.location.search);
const onlyQueues = (params.get("queues") || "")
  .split(",").map((q) => q.trim()).filter((q) => q.length > 0);
const onlyTeam = (params.get("team") || "").trim();
const rotateSeconds = Math.max(0, Number(params.get("rotate")) || 0);
const perPage = Math.max(1, Math.floor(Number(params.get("per")) || 6));

const state = {
  snapshots: new Map(), // queue -> snapshot (JSON from the worker, see stream/export/snapshots.py)
  staleSeconds: 10,
  offset: 0, // server clock - browser clock, seconds
  page: 0,
  connected: false,
  redis: false,
  refused: false,
};

const tilesEl = document.getElementById("tiles");
const emptyEl = document.getElementById("empty");
const tiles = new Map(); // queue -> view (see makeView)
let shown = []; // names of the tiles in the DOM, in DOM (= name) order
const dirty = new Set(); // queues whose snapshot changed since the last draw
let structureDirty = true; // the set of tiles shown may have changed
let flushPending = false;

// Counters for tests and the benchmark (no DOM: reading them changes nothing on the page).
window.wallboardStats = { messages: 0, flushes: 0, tilesDrawn: 0, structural: 0 };

function serverNow() {
  return Date.now() / 1000 + state.offset;
}

function format(value, kind) {
  if (value === null || value === undefined || Number.isNaN(value)) return NO_DATA;
  if (kind === "percent") return `${Math.round(value * 100)}%`;
  if (kind === "duration") {
    const s = Math.round(value);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}:${String(s % 60).padStart(2, "0")}`;
    return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}`;
  }
  return String(Math.round(value));
}

function wanted(snapshot) {
  if (onlyQueues.length > 0 && !onlyQueues.includes(snapshot.queue)) return false;
  if (onlyTeam && snapshot.team !== onlyTeam) return false;
  return true;
}

function worst(status) {
  const values = Object.values(status || {});
  for (const level of ["bad", "warn", "good"]) {
    if (values.includes(level)) return level;
  }
  return "none";
}

// Writes that touch the DOM only when the value differs: an unchanged value costs no mutation,
// no style invalidation and no layout.
function setText(node, text) {
  if (node.data !== text) node.data = text;
}

function setData(el, key, value) {
  if (el.dataset[key] !== value) el.dataset[key] = value;
}

function setClass(el, name, on) {
  if (el.classList.contains(name) !== on) el.classList.toggle(name, on);
}

function textChild(el) {
  const node = document.createTextNode("");
  el.append(node);
  return node;
}

function makeView(queue) {
  const tile = document.createElement("section");
  tile.className = "tile";
  tile.dataset.queue = queue;
  const header = document.createElement("header");
  const name = document.createElement("h2");
  name.textContent = queue;
  const team = document.createElement("span");
  team.className = "team";
  const age = document.createElement("span");
  age.className = "age";
  header.append(name, team, age);
  const kpis = document.createElement("div");
  kpis.className = "kpis";
  const fields = new Map();
  for (const [field, label] of FIELDS) {
    const kpi = document.createElement("div");
    kpi.className = "kpi";
    kpi.dataset.field = field;
    const value = document.createElement("span");
    value.className = "value";
    const caption = document.createElement("span");
    caption.className = "label";
    caption.textContent = label;
    kpi.append(value, caption);
    kpis.append(kpi);
    fields.set(field, { el: kpi, text: textChild(value) });
  }
  const agents = makeAgentsView(); // wallboard-agents.js
  tile.append(header, kpis, agents.el);
  observeAgents(agents);
  return {
    el: tile,
    team: textChild(team),
    age: textChild(age),
    fields,
    agents,
    updatedAt: Number.NaN,
  };
}

function draw(view, snapshot) {
  setText(view.team, snapshot.team || "");
  setData(view.el, "team", snapshot.team || "");
  setData(view.el, "worst", worst(snapshot.status));
  for (const [field, , kind] of FIELDS) {
    const { el, text } = view.fields.get(field);
    const value = snapshot[field];
    setData(el, "value", value === null || value === undefined ? "" : String(value));
    setData(el, "status", (snapshot.status && snapshot.status[field]) || "none");
    setText(text, format(value, kind));
  }
  view.updatedAt = Number(snapshot.updated_at);
  showAge(view, serverNow());
  drawAgents(view, snapshot);
  window.wallboardStats.tilesDrawn += 1;
}

// Brings the tiles in the DOM in line with the snapshots and the filter: creates, removes and
// orders tiles (the only place that does), then repaginates.
function restructure() {
  const names = [...state.snapshots.keys()].filter((n) => wanted(state.snapshots.get(n)));
  names.sort();
  const keep = new Set(names);
  for (const [name, view] of tiles) {
    if (!keep.has(name)) {
      view.el.remove();
      tiles.delete(name);
    }
  }
  // The tiles left are in name order already: insert each new one before its successor.
  let cursor = emptyEl.nextSibling;
  for (const name of names) {
    let view = tiles.get(name);
    if (!view) {
      view = makeView(name);
      tiles.set(name, view);
      dirty.add(name);
    }
    if (view.el === cursor) {
      cursor = cursor.nextSibling;
    } else {
      tilesEl.insertBefore(view.el, cursor);
    }
  }
  shown = names;
  setClass(emptyEl, "hidden", names.length > 0);
  setText(
    emptyEl.firstChild || emptyEl.appendChild(document.createTextNode("")),
    state.snapshots.size > 0 ? "No queue matches the filter." : "Waiting for snapshots…",
  );
  paginate();
  window.wallboardStats.structural += 1;
}

function paginate() {
  const pageEl = document.getElementById("page");
  if (rotateSeconds <= 0 || shown.length <= perPage) {
    for (const name of shown) setClass(tiles.get(name).el, "hidden", false);
    if (pageEl.textContent !== "") pageEl.textContent = "";
    return;
  }
  const pages = Math.ceil(shown.length / perPage);
  state.page %= pages;
  shown.forEach((name, i) => {
    setClass(tiles.get(name).el, "hidden", Math.floor(i / perPage) !== state.page);
  });
  const label = `page ${state.page + 1}/${pages}`;
  if (pageEl.textContent !== label) pageEl.textContent = label;
}

function flush() {
  flushPending = false;
  if (structureDirty) {
    structureDirty = false;
    restructure();
  }
  for (const name of dirty) {
    const view = tiles.get(name);
    if (view) draw(view, state.snapshots.get(name));
  }
  dirty.clear();
  window.wallboardStats.flushes += 1;
}

function scheduleFlush() {
  if (flushPending) return;
  flushPending = true;
  if (document.visibilityState === "hidden") {
    setTimeout(flush, HIDDEN_FLUSH_MS);
  } else {
    requestAnimationFrame(flush);
  }
}

function showAge(view, now) {
  const age = Math.max(0, now - view.updatedAt);
  const stale = age > state.staleSeconds;
  setClass(view.el, "stale", stale);
  setData(view.el, "stale", String(stale));
  setText(view.age, stale ? `no update for ${format(age, "duration")}` : "");
}

function refreshAges() {
  const now = serverNow();
  for (const view of tiles.values()) {
    if (!Number.isNaN(view.updatedAt)) showAge(view, now);
    if (!view.el.classList.contains("hidden")) tickAgents(view, now);
  }
  const clock = document.getElementById("clock");
  const text = new Date(now * 1000).toLocaleTimeString([], { hour12: false });
  if (clock.textContent !== text) clock.textContent = text;
}

function showConnection() {
  const el = document.getElementById("connection");
  let [mode, text] = ["live", "live"];
  if (state.refused) {
    [mode, text] = ["down", "wallboard server refused the stream (too many screens?); retrying"];
  } else if (!state.connected) {
    [mode, text] = ["down", "wallboard server unreachable"];
  } else if (!state.redis) {
    [mode, text] = ["down", "no data source (Redis down)"];
  }
  setData(el, "state", mode);
  if (el.textContent !== text) el.textContent = text;
}

function describeFilter() {
  const parts = [];
  if (onlyQueues.length > 0) parts.push(`queues: ${onlyQueues.join(", ")}`);
  if (onlyTeam) parts.push(`team: ${onlyTeam}`);
  document.getElementById("filter").textContent = parts.join(" · ");
}

function syncClock(data) {
  if (typeof data.server_time === "number") state.offset = data.server_time - Date.now() / 1000;
}

function replaceAll(data) {
  syncClock(data);
  if (typeof data.stale_seconds === "number") state.staleSeconds = data.stale_seconds;
  state.redis = Boolean(data.redis);
  state.snapshots = new Map(data.snapshots.map((s) => [s.queue, s]));
  for (const name of state.snapshots.keys()) dirty.add(name);
  structureDirty = true;
  showConnection();
  scheduleFlush();
}

function update(snapshot) {
  const name = snapshot.queue;
  const before = state.snapshots.get(name);
  state.snapshots.set(name, snapshot);
  // A new queue, or a team change that moves it in or out of the filter: tiles change.
  if (!before || (onlyTeam && before.team !== snapshot.team)) structureDirty = true;
  dirty.add(name);
  scheduleFlush();
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("open", () => {
    state.connected = true;
    state.refused = false;
    showConnection();
  });
  source.addEventListener("error", () => {
    state.connected = false;
    if (source.readyState === EventSource.CLOSED) {
      // The server answered with an error status (503 when it has too many screens): the
      // browser gives up on such a stream, so reconnect here, with jitter.
      source.close();
      state.refused = true;
      setTimeout(connect, REFUSED_RETRY_MS * (1 + Math.random()));
    }
    showConnection();
  });
  source.addEventListener("hello", (e) => {
    window.wallboardStats.messages += 1;
    replaceAll(JSON.parse(e.data));
  });
  source.addEventListener("reset", (e) => {
    window.wallboardStats.messages += 1;
    replaceAll(JSON.parse(e.data));
  });
  source.addEventListener("snapshot", (e) => {
    window.wallboardStats.messages += 1;
    const data = JSON.parse(e.data);
    syncClock(data);
    state.redis = true;
    showConnection();
    update(data.snapshot);
  });
  source.addEventListener("clock", (e) => {
    window.wallboardStats.messages += 1;
    const data = JSON.parse(e.data);
    syncClock(data);
    state.redis = Boolean(data.redis);
    showConnection();
    refreshAges();
  });
}

FIELDS.push(...AGENT_FIELDS); // the agent tiles (wallboard-agents.js), after the others
describeFilter();
connect();
setInterval(refreshAges, 1000);
if (rotateSeconds > 0) {
  setInterval(() => {
    state.page += 1;
    paginate();
  }, rotateSeconds * 1000);
}
