// Wallboard page, the agent part of a tile: the agent tiles (fields added to FIELDS) and the list
// of agents longest in their state (snapshot.agent_list, see stream/agent_board.py).
//
// Loaded before wallboard.js, which calls makeAgentsView (a tile is made), drawAgents (its
// snapshot changed) and tickAgents (every second). A row carries instants (since,
// handling_since, event time); its durations are the worker's (snapshot.at - since) plus the
// time since the snapshot was written, so they tick here without a new snapshot. The rows are
// rebuilt only when the list changed; a tick writes only the duration texts that changed, and
// only of the lists on screen (an IntersectionObserver follows them; a list scrolled or paged
// into view is ticked at once): with 500 tiles of 20 agents, ticking every list cost the page
// three times its main-thread time (benchmarks/wallboard.py, docs/benchmarks.md).
// Data reaches the DOM through text nodes and dataset only, never as markup.
"use strict";

const AGENT_FIELDS = [
  ["agents_staffed", "Staffed", "count"],
  ["agents_on_queue", "On queue", "count"],
  ["agents_away", "Away", "count"],
  ["agents_ringing", "Ringing", "count"],
  ["offers_missed", "Missed offers", "count"],
  ["agent_answer_rate_today", "Rings answered today", "percent"],
];
const STATE_NAMES = {
  available: "available",
  busy: "busy",
  after_call_work: "wrap-up",
  away: "away",
};

const agentViews = new WeakMap(); // list element -> its view, for the observer
const onScreen =
  typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const agents = agentViews.get(entry.target);
        if (!agents) continue;
        agents.visible = entry.isIntersecting;
        if (agents.visible) tickAgentList(agents, serverNow());
      }
    })
    : null;

function makeAgentsView() {
  const el = document.createElement("div");
  el.className = "agents";
  const head = document.createElement("div");
  head.className = "agents-head";
  const rows = document.createElement("ol");
  rows.className = "agent-rows";
  el.append(head, rows);
  return {
    el,
    head: textChild(head),
    rows,
    items: [], // one view per row: {el, id, state, inState, call, since, handlingSince}
    list: null, // the agent_list drawn: a heartbeat with the same list changes nothing
    of: -1, // and agents_listed_of
    at: Number.NaN, // the snapshot's worker clock
    updatedAt: Number.NaN, // and the wall clock it was written at
    away: null, // the text node of the reasons under the Away tile
    visible: onScreen === null, // on screen (ticked every second); without an observer: always
  };
}

// Called once the tile is made: the list is observed from then on.
function observeAgents(agents) {
  agentViews.set(agents.el, agents);
  if (onScreen) onScreen.observe(agents.el);
}

function makeRow() {
  const el = document.createElement("li");
  el.className = "agent";
  const cells = ["id", "state", "in-state", "call"].map((name) => {
    const cell = document.createElement("span");
    cell.className = name;
    el.append(cell);
    return textChild(cell);
  });
  const [id, state, inState, call] = cells;
  return { el, id, state, inState, call, since: Number.NaN, handlingSince: null };
}

function reasonsText(byReason) {
  if (!byReason) return "";
  return Object.entries(byReason)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(" · ");
}

function drawAgents(view, snapshot) {
  const agents = view.agents;
  const field = view.fields.get("agents_away");
  if (field && !agents.away) {
    const detail = document.createElement("span");
    detail.className = "detail";
    field.el.append(detail);
    agents.away = textChild(detail);
  }
  if (agents.away) setText(agents.away, reasonsText(snapshot.agents_away_by_reason));
  agents.at = Number(snapshot.at);
  agents.updatedAt = Number(snapshot.updated_at);
  const list = Array.isArray(snapshot.agent_list) ? snapshot.agent_list : [];
  const of = Number(snapshot.agents_listed_of) || 0;
  if (of !== agents.of || !sameList(agents.list, list)) {
    agents.list = list;
    agents.of = of;
    window.wallboardStats.agentListsDrawn = (window.wallboardStats.agentListsDrawn || 0) + 1;
    while (agents.items.length > list.length) agents.items.pop().el.remove();
    while (agents.items.length < list.length) {
      const item = makeRow();
      agents.items.push(item);
      agents.rows.append(item.el);
    }
    list.forEach((agent, i) => {
      const item = agents.items[i];
      const reason = agent.reason === null || agent.reason === undefined ? "" : String(agent.reason);
      setData(item.el, "agent", String(agent.agent_id));
      setData(item.el, "state", String(agent.state));
      setData(item.el, "reason", reason);
      setText(item.id, String(agent.agent_id));
      const name = STATE_NAMES[agent.state] || String(agent.state);
      setText(item.state, reason ? `${name} · ${reason}` : name);
      item.since = Number(agent.since);
      item.handlingSince = agent.handling_since === null ? null : Number(agent.handling_since);
      // The durations at the snapshot's instant (what tests compare exactly).
      setData(item.el, "stateSeconds", String(agents.at - item.since));
      setData(
        item.el,
        "callSeconds",
        item.handlingSince === null ? "" : String(agents.at - item.handlingSince),
      );
    });
    setClass(agents.el, "hidden", of === 0);
    setText(
      agents.head,
      of === 0 ? "" : list.length < of ? `agents: ${list.length} of ${of}, longest in state first`
        : `agents: ${of}, longest in state first`,
    );
  }
  tickAgentList(agents, serverNow());
}

const ROW_KEYS = ["agent_id", "state", "reason", "since", "handling_since"];

// Field by field: cheaper than serialising both lists on every heartbeat.
function sameList(before, list) {
  if (before === null || before.length !== list.length) return false;
  for (let i = 0; i < list.length; i += 1) {
    for (const key of ROW_KEYS) {
      if (before[i][key] !== list[i][key]) return false;
    }
  }
  return true;
}

// Every second, from wallboard.js: the lists on screen only.
function tickAgents(view, now) {
  if (view.agents.visible) tickAgentList(view.agents, now);
}

// Durations at the instant the snapshot was taken, plus the time since it was written.
function tickAgentList(agents, now) {
  if (agents.items.length === 0) return;
  const elapsed = Math.max(0, now - agents.updatedAt);
  for (const item of agents.items) {
    setText(item.inState, format(Math.max(0, agents.at - item.since + elapsed), "duration"));
    if (item.handlingSince === null) {
      setText(item.call, "");
    } else {
      const call = agents.at - item.handlingSince + elapsed;
      setText(item.call, `call ${format(Math.max(0, call), "duration")}`);
    }
  }
}
