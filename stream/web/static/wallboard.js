// Wallboard page: one tile per queue, fed by the server's Server-Sent Events (/events).
// Plain JS, no build step, no external resources. Query parameters:
//   ?queues=billing,sales  only these queues        ?team=Front%20office  only this team
//   ?rotate=15             page through the tiles every 15 s (&per=6 tiles a page)
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
];
const NO_DATA = "—";

const params = new URLSearchParams(window.location.search);
const onlyQueues = (params.get("queues") || "")
  .split(",").map((q) => q.trim()).filter((q) => q.length > 0);
const onlyTeam = (params.get("team") || "").trim();
const rotateSeconds = Math.max(0, Number(params.get("rotate")) || 0);
const perPage = Math.max(1, Math.floor(Number(params.get("per")) || 6));

const state = {
  snapshots: new Map(), // queue -> snapshot (JSON from the worker, see stream/snapshots.py)
  staleSeconds: 10,
  offset: 0, // server clock - browser clock, seconds
  page: 0,
  connected: false,
  redis: false,
};

const tilesEl = document.getElementById("tiles");
const emptyEl = document.getElementById("empty");
const tiles = new Map(); // queue -> tile element

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

function makeTile(queue) {
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
  }
  tile.append(header, kpis);
  return tile;
}

function fillTile(tile, snapshot) {
  tile.querySelector(".team").textContent = snapshot.team || "";
  tile.dataset.team = snapshot.team || "";
  tile.dataset.updatedAt = String(snapshot.updated_at);
  tile.dataset.worst = worst(snapshot.status);
  for (const [field, , kind] of FIELDS) {
    const kpi = tile.querySelector(`.kpi[data-field="${field}"]`);
    const value = snapshot[field];
    kpi.dataset.value = value === null || value === undefined ? "" : String(value);
    kpi.dataset.status = (snapshot.status && snapshot.status[field]) || "none";
    kpi.querySelector(".value").textContent = format(value, kind);
  }
}

function render() {
  const names = [...state.snapshots.keys()].sort();
  const shown = names.filter((name) => wanted(state.snapshots.get(name)));
  for (const [name, tile] of tiles) {
    if (!shown.includes(name)) {
      tile.remove();
      tiles.delete(name);
    }
  }
  for (const name of shown) {
    let tile = tiles.get(name);
    if (!tile) {
      tile = makeTile(name);
      tiles.set(name, tile);
    }
    fillTile(tile, state.snapshots.get(name));
  }
  // Keep DOM order = name order.
  for (const name of shown) tilesEl.append(tiles.get(name));
  emptyEl.classList.toggle("hidden", shown.length > 0);
  emptyEl.textContent = state.snapshots.size > 0 ? "No queue matches the filter." : "Waiting for snapshots…";
  paginate(shown);
  refreshAges();
}

function paginate(shown) {
  const pageEl = document.getElementById("page");
  if (rotateSeconds <= 0 || shown.length <= perPage) {
    for (const name of shown) tiles.get(name).classList.remove("hidden");
    pageEl.textContent = "";
    return;
  }
  const pages = Math.ceil(shown.length / perPage);
  state.page %= pages;
  shown.forEach((name, i) => {
    tiles.get(name).classList.toggle("hidden", Math.floor(i / perPage) !== state.page);
  });
  pageEl.textContent = `page ${state.page + 1}/${pages}`;
}

function refreshAges() {
  const now = serverNow();
  for (const tile of tiles.values()) {
    const age = Math.max(0, now - Number(tile.dataset.updatedAt));
    const stale = age > state.staleSeconds;
    tile.classList.toggle("stale", stale);
    tile.dataset.stale = String(stale);
    tile.querySelector(".age").textContent = stale ? `no update for ${format(age, "duration")}` : "";
  }
  const clock = document.getElementById("clock");
  clock.textContent = new Date(now * 1000).toLocaleTimeString([], { hour12: false });
}

function showConnection() {
  const el = document.getElementById("connection");
  if (!state.connected) {
    el.dataset.state = "down";
    el.textContent = "wallboard server unreachable";
  } else if (!state.redis) {
    el.dataset.state = "down";
    el.textContent = "no data source (Redis down)";
  } else {
    el.dataset.state = "live";
    el.textContent = "live";
  }
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
  showConnection();
  render();
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("open", () => {
    state.connected = true;
    showConnection();
  });
  source.addEventListener("error", () => {
    state.connected = false;
    showConnection();
  });
  source.addEventListener("hello", (e) => replaceAll(JSON.parse(e.data)));
  source.addEventListener("reset", (e) => replaceAll(JSON.parse(e.data)));
  source.addEventListener("snapshot", (e) => {
    const data = JSON.parse(e.data);
    syncClock(data);
    state.redis = true;
    state.snapshots.set(data.snapshot.queue, data.snapshot);
    showConnection();
    render();
  });
  source.addEventListener("clock", (e) => {
    const data = JSON.parse(e.data);
    syncClock(data);
    state.redis = Boolean(data.redis);
    showConnection();
    refreshAges();
  });
}

describeFilter();
connect();
setInterval(refreshAges, 1000);
if (rotateSeconds > 0) {
  setInterval(() => {
    state.page += 1;
    render();
  }, rotateSeconds * 1000);
}
