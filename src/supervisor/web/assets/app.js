// msm dashboard. Plain browser JavaScript, bundled into the msm binary as text. Everything shown is built with
// textContent (never innerHTML): entity names and log lines are data, not markup.

const csrf = document.querySelector('meta[name="msm-csrf"]').content;
const main = document.getElementById("main");
/** The status view refreshes this often; the server answers from a shared snapshot, so tabs cost it nothing. */
const STATUS_EVERY_MS = 2000;
const LOG_EVERY_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

let timer = 0;
let openLog = null;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  return el;
}

function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), "x-msm-csrf": csrf } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `${response.status} ${response.statusText}`);
  return body;
}

function link(params, ...children) {
  const href = "/?" + new URLSearchParams(params).toString();
  return h(
    "a",
    {
      href,
      onclick: (e) => {
        if (e.button === 0 && !e.metaKey && !e.ctrlKey) {
          e.preventDefault();
          go(href);
        }
      },
    },
    ...children,
  );
}

function go(href) {
  history.pushState(null, "", href);
  route();
}
window.addEventListener("popstate", () => route());

function bytes(n) {
  if (n === null || n === undefined) return "–";
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${seconds % 60}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${m % 60}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

function count(n) {
  return n === null || n === undefined ? "–" : String(n);
}

function time(ms) {
  return new Date(ms).toLocaleString();
}

// ---------------------------------------------------------------- routing

function route() {
  clearTimeout(timer);
  const params = new URLSearchParams(location.search);
  const memory = params.has("q") || params.has("entity") || params.get("view") === "memory";
  const tools = params.get("view") === "tools";
  document.getElementById("nav-status").classList.toggle("active", !memory && !tools);
  document.getElementById("nav-tools").classList.toggle("active", tools);
  document.getElementById("nav-memory").classList.toggle("active", memory);
  for (const nav of document.querySelectorAll("nav a")) {
    nav.onclick = (e) => {
      if (e.button === 0 && !e.metaKey && !e.ctrlKey) {
        e.preventDefault();
        go(nav.getAttribute("href"));
      }
    };
  }
  if (params.has("entity")) return showEntity(params.get("db") || "", params.get("entity"));
  if (memory) return showSearch(params.get("db") || "", params.get("q") || "");
  if (tools) return showTools();
  return showStatus();
}

// ---------------------------------------------------------------- status view

/** The window the status sparklines cover; the server keeps about this much history. */
const SPARK_WINDOW_MS = 10 * 60 * 1000;

/** Resident memory over the last minutes, on a time axis from 0 (a flat line is a steady daemon). */
function sparkline(samples, now) {
  const width = 120;
  const height = 24;
  const points = samples.filter((p) => typeof p.rssBytes === "number");
  const svg = s("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}` });
  if (points.length < 2) return svg;
  const hi = Math.max(...points.map((p) => p.rssBytes)) * 1.15 || 1;
  // The axis spans the history there is (at least a minute, at most SPARK_WINDOW_MS): a young daemon's line is short.
  const windowMs = Math.min(SPARK_WINDOW_MS, Math.max(60_000, now - points[0].t));
  const xy = points.map((p) => {
    const x = width - ((now - p.t) / windowMs) * width;
    const y = height - 1 - (p.rssBytes / hi) * (height - 2);
    return `${Math.max(0, x).toFixed(1)},${y.toFixed(1)}`;
  });
  const left = xy[0].split(",")[0];
  svg.append(s("polygon", { points: `${left},${height} ${xy.join(" ")} ${width},${height}` }), s("polyline", { points: xy.join(" ") }));
  const title = s("title");
  const lo = Math.min(...points.map((p) => p.rssBytes));
  title.textContent = `resident memory ${bytes(lo)} – ${bytes(hi / 1.15)} over the last ${Math.max(1, Math.round((now - points[0].t) / 60000))} min`;
  svg.append(title);
  return svg;
}

async function act(button, name, action) {
  button.disabled = true;
  try {
    await api(`/ui/api/daemons/${encodeURIComponent(name)}/${action}`, { method: "POST" });
  } catch (error) {
    alert(`${action} ${name}: ${error.message}`);
  }
  button.disabled = false;
  if (!new URLSearchParams(location.search).has("view")) refreshStatus();
}

function targetRows(t, history, now) {
  const running = t.state === "running" || t.state === "degraded"; // degraded: the host runs, a child of it failed
  const rows = [
    h(
      "tr",
      { "data-target": t.name, "data-state": t.state },
      h("td", {}, h("strong", {}, t.name), h("span", { class: "type" }, t.kind)),
      h(
        "td",
        {},
        h(
          "span",
          {
            class: `state ${t.state}`,
            title:
              t.state === "cached" && t.cache ? `not started: sessions are answered from the discovery cache, written ${duration(t.cache.ageSeconds)} ago` : "",
          },
          t.state === "cached" && t.cache ? `cached · ${duration(t.cache.ageSeconds)}` : t.state,
        ),
      ),
      h("td", { class: "num pid" }, count(t.pid)),
      h("td", { class: "num" }, duration(t.uptimeSeconds)),
      h("td", { class: "num" }, String(t.restarts)),
      // msm's own daemons count MCP sessions; an external server tells nothing, so its open connections stand in.
      h("td", { class: "num", title: t.sessions === null && t.connections !== null ? "open connections" : "MCP sessions" }, count(t.sessions ?? t.connections)),
      h("td", { class: "num" }, count(t.requests)),
      h("td", { class: "num" }, bytes(t.rssBytes)),
      h("td", {}, sparkline(history[t.name] || [], now)),
      h(
        "td",
        {},
        h(
          "div",
          { class: "actions" },
          h("button", { class: "logs", onclick: () => toggleLog(t.name) }, openLog === t.name ? "Hide log" : "Log"),
          h("button", { class: "restart", onclick: (e) => act(e.target, t.name, "restart") }, running ? "Restart" : "Start"),
          h("button", { class: "stop", disabled: !running && t.state !== "backoff", onclick: (e) => act(e.target, t.name, "stop") }, "Stop"),
        ),
      ),
    ),
  ];
  for (const c of t.children || []) {
    rows.push(
      h(
        "tr",
        { class: "child", "data-child": c.project },
        h(
          "td",
          { title: c.project || "global" },
          "↳ ",
          c.project ? c.project.split("/").filter(Boolean).at(-1) || c.project : "(global)",
          c.instance ? ` #${c.instance}` : "",
        ),
        h("td", {}, h("span", { class: `state ${c.state || "running"}` }, c.state ? `child ${c.state}` : "child")),
        h("td", { class: "num pid" }, count(c.pid)),
        h("td", { class: "num" }, duration(c.uptime ?? c.uptimeSeconds)),
        h("td", { class: "num" }, count(c.restarts)),
        h("td", { class: "num" }, count(c.sessions)),
        h("td", { class: "num" }, count(c.requests)),
        h("td", { class: "num" }, bytes(c.rss ?? c.rssBytes)),
        h("td", {}),
        h("td", {}),
      ),
    );
  }
  if ((t.state === "failed" || t.state === "degraded" || t.state === "backoff") && (t.note || (t.lastLog || []).length)) {
    rows.push(
      h(
        "tr",
        { class: "detail" },
        h(
          "td",
          { colspan: 10 },
          t.note ? h("div", { class: "error" }, t.note) : null,
          (t.lastLog || []).length ? h("pre", { class: "lastlog" }, t.lastLog.join("\n")) : null,
        ),
      ),
    );
  }
  return rows;
}

/**
 * config.json as the supervisor sees it: a problem (and whether the last good config stays in force), or a setting
 * that applies only when the supervisor restarts. Nothing when the file is fine.
 */
function configBanner(config) {
  if (!config) return null;
  const parts = [];
  if (config.problems.length) {
    const since = new Date(config.appliedAt).toLocaleTimeString();
    const head = config.keptAll ? `config.json has a problem: the last good config (read at ${since}) stays in force` : "config.json has a problem";
    parts.push(h("strong", {}, head), h("ul", {}, ...config.problems.map((p) => h("li", {}, p))));
  }
  for (const note of config.needsRestart || []) parts.push(h("p", {}, note));
  return parts.length ? h("div", { class: "banner", id: "config-banner" }, ...parts) : null;
}

async function refreshStatus() {
  clearTimeout(timer);
  let snapshot;
  try {
    snapshot = await api("/ui/api/status");
  } catch (error) {
    main.replaceChildren(h("p", { class: "error" }, `Cannot reach the supervisor: ${error.message}`));
    timer = setTimeout(refreshStatus, STATUS_EVERY_MS * 2);
    return;
  }
  if (new URLSearchParams(location.search).toString() !== "") return; // navigated away meanwhile
  const sup = snapshot.status.supervisor;
  document.getElementById("supervisor").textContent = `supervisor pid ${sup.pid} · v${sup.version} · up ${duration(sup.uptimeSeconds)} · ${sup.home}`;
  const table = h(
    "table",
    { id: "targets" },
    h(
      "thead",
      {},
      h("tr", {}, ...["target", "state", "pid", "uptime", "restarts", "sessions", "requests", "memory", "last 10 min", ""].map((c) => h("th", {}, c))),
    ),
    h(
      "tbody",
      {},
      snapshot.status.targets.flatMap((t) => targetRows(t, snapshot.history, snapshot.at)),
    ),
  );
  const logPanel = document.getElementById("logpanel") || h("div", { id: "logpanel" });
  main.replaceChildren(
    ...[
      configBanner(snapshot.status.config),
      h("h1", {}, "Daemons"),
      h("p", { class: "muted" }, `Updated ${new Date(snapshot.at).toLocaleTimeString()}`),
      table,
      logPanel,
    ].filter(Boolean),
  );
  timer = setTimeout(refreshStatus, document.hidden ? STATUS_EVERY_MS * 5 : STATUS_EVERY_MS);
}

let logTimer = 0;
function toggleLog(name) {
  openLog = openLog === name ? null : name;
  clearTimeout(logTimer);
  if (openLog) refreshLog();
  else document.getElementById("logpanel")?.replaceChildren();
  refreshStatus();
}

async function refreshLog() {
  clearTimeout(logTimer);
  const name = openLog;
  if (!name) return;
  let lines = [];
  try {
    lines = (await api(`/ui/api/logs/${encodeURIComponent(name)}?lines=200`)).lines;
  } catch (error) {
    lines = [`(${error.message})`];
  }
  const panel = document.getElementById("logpanel");
  if (!panel || openLog !== name) return;
  const pre = h("pre", { id: "log" }, lines.join("\n") || "(empty)");
  panel.replaceChildren(h("h2", {}, `Log: ${name}`), pre);
  pre.scrollTop = pre.scrollHeight;
  logTimer = setTimeout(refreshLog, LOG_EVERY_MS);
}

function showStatus() {
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  refreshStatus();
}

// ---------------------------------------------------------------- tools view

function number(n) {
  return n.toLocaleString("en-US");
}

/** Every target's tools with their estimated tokens: what each costs in a model's context, and what rules hide. */
async function showTools() {
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let report;
  try {
    report = await api("/ui/api/tools");
  } catch (error) {
    main.replaceChildren(h("p", { class: "error" }, error.message));
    return;
  }
  const { shown, hidden } = report.total;
  const panels = report.targets.map((t) => {
    if (!t.listed)
      return h(
        "div",
        { class: "panel", "data-tools": t.target },
        h("h2", {}, t.target),
        h("p", { class: "muted" }, `No tool list cached yet; "msm refresh ${t.target}" or a session of it fills it.`),
      );
    const byCost = (a, b) => b.tokens - a.tokens;
    const ordered = [...t.tools.filter((x) => !x.hidden).sort(byCost), ...t.tools.filter((x) => x.hidden).sort(byCost)];
    return h(
      "div",
      { class: "panel", "data-tools": t.target },
      h("h2", {}, t.target),
      h(
        "p",
        { class: "muted" },
        `${t.shown.tools} of ${t.tools.length} tools shown · ${number(t.shown.tokens)} tokens` +
          (t.hidden.tools ? ` · ${t.hidden.tools} hidden, ${number(t.hidden.tokens)} tokens saved in every session` : "") +
          (t.project ? ` · listed to a session in ${t.project}` : ""),
      ),
      h(
        "table",
        { class: "tools" },
        h("thead", {}, h("tr", {}, h("th", {}, "tool"), h("th", { class: "num" }, "tokens"), h("th", {}, ""))),
        h(
          "tbody",
          {},
          ordered.map((x) =>
            h(
              "tr",
              { class: x.hidden ? "hidden-tool" : "", "data-tool": x.name },
              h("td", {}, x.name),
              h("td", { class: "num" }, number(x.tokens)),
              h("td", { title: x.hiddenIn || "" }, x.hidden ? `hidden: ${x.hidden}` : ""),
            ),
          ),
        ),
      ),
    );
  });
  main.replaceChildren(
    h("h1", {}, "Tools"),
    h(
      "p",
      { id: "tools-total" },
      `All targets: ${shown.tools} tools shown, ${number(shown.tokens)} tokens; ${hidden.tools} hidden by rules, ${number(hidden.tokens)} tokens saved.`,
    ),
    ...panels,
    h("p", { class: "muted" }, report.note, ". Hidden: by the tool rules of config.json."),
  );
}

// ---------------------------------------------------------------- memory explorer

let databases = null;
async function loadDatabases() {
  databases = await api("/ui/api/databases");
  return databases;
}

function dbLabel(db) {
  if (db.backend === "postgres") return db.error ? "PostgreSQL" : `${db.label} — PostgreSQL`;
  return db.project ? `${db.label} — ${db.project}` : "home (~/.claude/memory.db)";
}

function dbDetail(db) {
  if (db.error) return db.error;
  const where = db.backend === "postgres" ? `${db.file} · project ${db.project}` : db.file;
  return `${count(db.entities)} entities · ${count(db.relations)} relations · ${where}`;
}

async function showSearch(dbId, query) {
  const dbs = await loadDatabases().catch((e) => {
    main.replaceChildren(h("p", { class: "error" }, e.message));
    return null;
  });
  if (!dbs) return;
  const input = h("input", {
    id: "q",
    type: "search",
    value: query,
    placeholder: "Search entities, types and observations (same ranking as search_nodes)",
    autofocus: true,
  });
  const select = h(
    "select",
    { id: "db" },
    h("option", { value: "" }, "All databases"),
    dbs
      .filter((d) => !d.error)
      .map((d) =>
        h(
          "option",
          { value: d.id, selected: d.id === dbId },
          `${d.project ? d.label : "home"}${d.backend === "postgres" ? " (PostgreSQL)" : ""} (${count(d.entities)} entities)`,
        ),
      ),
  );
  const form = h(
    "form",
    {
      class: "searchbar",
      onsubmit: (e) => {
        e.preventDefault();
        const params = { q: input.value };
        if (select.value) params.db = select.value;
        go("/?" + new URLSearchParams(params).toString());
      },
    },
    input,
    select,
    h("button", { type: "submit" }, "Search"),
  );
  const results = h("div", { id: "results" });
  const shared = dbs.some((d) => d.backend === "postgres") ? " and every project in the PostgreSQL database" : "";
  main.replaceChildren(
    h("h1", {}, "Memory"),
    h("p", { class: "muted" }, `${dbs.length} database${dbs.length === 1 ? "" : "s"}: the home one, every project the memory daemon has opened${shared}.`),
    form,
    results,
  );
  if (!new URLSearchParams(location.search).has("q")) {
    results.append(
      h(
        "div",
        { class: "panel" },
        h(
          "ul",
          { class: "results" },
          dbs.map((d) =>
            h(
              "li",
              {},
              d.error ? h("span", {}, dbLabel(d)) : link({ q: "", db: d.id }, dbLabel(d)),
              h("div", { class: d.error ? "snippet error" : "snippet" }, dbDetail(d)),
            ),
          ),
        ),
      ),
    );
    return;
  }
  const targets = (dbId ? dbs.filter((d) => d.id === dbId) : dbs).filter((d) => !d.error);
  let shown = 0;
  for (const db of targets) {
    const section = h("div", { class: "panel", "data-db": db.id }, h("h2", {}, dbLabel(db)));
    // Searching every database: only those with a match get a panel.
    if (await appendResults(section, db, query, 0)) {
      results.append(section);
      shown++;
    }
  }
  if (!shown) results.append(h("p", { class: "muted", id: "nomatch" }, `No entity matches "${query}".`));
}

async function appendResults(section, db, query, offset) {
  let found;
  try {
    found = await api(`/ui/api/search?${new URLSearchParams({ db: db.id, q: query, offset: String(offset) })}`);
  } catch (error) {
    section.append(h("p", { class: "error" }, error.message));
    return true;
  }
  if (!found.entities.length) return false;
  section.append(
    h(
      "ul",
      { class: "results" },
      found.entities.map((e) =>
        h(
          "li",
          { class: "result" },
          link({ db: db.id, entity: e.name }, e.name),
          h("span", { class: "type" }, e.entityType),
          h("span", { class: "muted" }, ` · ${e.observations} observation${e.observations === 1 ? "" : "s"}`),
          e.snippet ? h("div", { class: "snippet" }, e.snippet) : null,
        ),
      ),
    ),
  );
  if (found.more) {
    const more = h(
      "button",
      {
        onclick: () => {
          more.remove();
          appendResults(section, db, query, offset + found.entities.length);
        },
      },
      "More results",
    );
    section.append(more);
  }
  return true;
}

async function showEntity(dbId, name) {
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let entity, dbs;
  try {
    [entity, dbs] = await Promise.all([
      api(`/ui/api/entity?${new URLSearchParams({ db: dbId, name })}`),
      databases ? Promise.resolve(databases) : loadDatabases(),
    ]);
  } catch (error) {
    main.replaceChildren(h("p", { class: "error" }, `${name}: ${error.message}`), link({ view: "memory" }, "Back to search"));
    return;
  }
  const db = dbs.find((d) => d.id === dbId);
  const relList = (rels, outgoing, total) =>
    h(
      "div",
      {},
      h(
        "ul",
        { class: "rels" },
        rels.map((r) =>
          h(
            "li",
            {},
            outgoing ? h("span", { class: "rel" }, r.relationType, " → ") : null,
            link({ db: dbId, entity: outgoing ? r.to : r.from }, outgoing ? r.to : r.from),
            outgoing ? null : h("span", { class: "rel" }, " ", r.relationType, " → this"),
          ),
        ),
      ),
      total > rels.length ? h("p", { class: "muted" }, `… and ${total - rels.length} more`) : null,
      total === 0 ? h("p", { class: "muted" }, "None.") : null,
    );
  const graphBox = h("div", { id: "graph" }, h("p", { class: "muted" }, "Drawing the neighbourhood…"));
  main.replaceChildren(
    h("p", {}, link({ view: "memory", ...(dbId ? { db: dbId } : {}) }, "← Memory"), h("span", { class: "muted" }, db ? ` · ${dbLabel(db)}` : "")),
    h("h1", { id: "entity-name" }, entity.name, h("span", { class: "type" }, entity.entityType)),
    h("p", { class: "muted" }, `created ${time(entity.createdAt)} · updated ${time(entity.updatedAt)}`),
    h(
      "div",
      { class: "grid" },
      h(
        "div",
        {},
        h(
          "div",
          { class: "panel" },
          h("h2", {}, `Observations (${entity.observations.length})`),
          h(
            "ul",
            { class: "obs" },
            entity.observations.map((o) => h("li", {}, o.content, h("time", {}, time(o.createdAt)))),
          ),
        ),
        h("div", { class: "panel" }, h("h2", {}, `Relations from here (${entity.outgoingCount})`), relList(entity.outgoing, true, entity.outgoingCount)),
        h("div", { class: "panel" }, h("h2", {}, `Relations to here (${entity.incomingCount})`), relList(entity.incoming, false, entity.incomingCount)),
      ),
      graphBox,
    ),
  );
  try {
    const graph = await api(`/ui/api/graph?${new URLSearchParams({ db: dbId, name, max: "60" })}`);
    graphBox.replaceChildren(
      drawGraph(graph, dbId),
      h(
        "p",
        { class: "muted" },
        `${graph.nodes.length} nodes, ${graph.edges.length} relations${graph.truncated ? " (neighbourhood cut to stay readable)" : ""}. Click a node to open it.`,
      ),
    );
  } catch (error) {
    graphBox.replaceChildren(h("p", { class: "error" }, error.message));
  }
}

/**
 * A small force-directed layout: repulsion between every pair, springs along relations, a pull to the middle, a
 * cooling step size. The server never sends more than 150 nodes, so a fixed number of O(n²) rounds is instant.
 */
function layout(nodes, edges, width, height, seed) {
  const index = new Map(nodes.map((n, i) => [n.name, i]));
  // Start from a radial tree (neighbours evenly around the centre, their own neighbours fanned out behind them):
  // forces then only polish it, instead of untangling a random start and getting stuck with crossings.
  const parent = new Map();
  for (const e of edges) {
    for (const [a, b] of [
      [e.from, e.to],
      [e.to, e.from],
    ]) {
      const na = nodes[index.get(a)];
      const nb = nodes[index.get(b)];
      if (na && nb && nb.depth === na.depth + 1 && !parent.has(b)) parent.set(b, a);
    }
  }
  const angle = new Map();
  const firstRing = nodes.filter((n) => n.depth === 1);
  firstRing.forEach((n, i) => {
    angle.set(n.name, (i / firstRing.length) * Math.PI * 2);
  });
  const siblings = new Map();
  for (const n of nodes) if (n.depth > 1) siblings.set(parent.get(n.name), [...(siblings.get(parent.get(n.name)) || []), n.name]);
  for (const [p, kids] of siblings) {
    const spread = Math.min(0.35, (Math.PI * 2) / Math.max(1, firstRing.length) / Math.max(1, kids.length));
    kids.forEach((kid, i) => {
      angle.set(kid, (angle.get(p) ?? Math.random() * Math.PI * 2) + (i - (kids.length - 1) / 2) * spread);
    });
  }
  // A little jitter, the same for a name every time (a stable picture): a perfectly symmetric start (two
  // neighbours on one line) would otherwise never leave that line, since every force would point along it.
  const jitter = (name, salt) => {
    let hash = salt;
    for (const ch of name) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0;
    return ((hash >>> 0) % 1000) / 1000 - 0.5;
  };
  const pos = nodes.map((n) => {
    if (seed > 0 && n.depth > 0) return { x: width / 2 + jitter(n.name, seed) * width * 0.8, y: height / 2 + jitter(n.name, seed + 1) * height * 0.8 };
    const a = (angle.get(n.name) ?? jitter(n.name, 7) * Math.PI * 2) + 0.6;
    const r = n.depth * Math.min(width, height) * 0.22;
    return { x: width / 2 + Math.cos(a) * r + jitter(n.name, 1) * 20, y: height / 2 + Math.sin(a) * r + jitter(n.name, 2) * 20 };
  });
  const links = edges.map((e) => [index.get(e.from), index.get(e.to)]).filter(([a, b]) => a !== undefined && b !== undefined && a !== b);
  const k = Math.min(Math.sqrt((width * height) / Math.max(1, nodes.length)) * 0.6, Math.min(width, height) * 0.3);
  let step = Math.min(width, height) / 10;
  for (let round = 0; round < 300; round++) {
    const move = pos.map(() => ({ x: 0, y: 0 }));
    for (let i = 0; i < pos.length; i++) {
      for (let j = i + 1; j < pos.length; j++) {
        let dx = pos[i].x - pos[j].x;
        let dy = pos[i].y - pos[j].y;
        let d2 = dx * dx + dy * dy;
        if (d2 < 0.01) {
          dx = Math.random() - 0.5;
          dy = Math.random() - 0.5;
          d2 = 0.5;
        }
        const f = (k * k) / d2;
        move[i].x += dx * f;
        move[i].y += dy * f;
        move[j].x -= dx * f;
        move[j].y -= dy * f;
      }
    }
    for (const [a, b] of links) {
      const dx = pos[a].x - pos[b].x;
      const dy = pos[a].y - pos[b].y;
      const d = Math.sqrt(dx * dx + dy * dy) || 0.1;
      const f = d / k;
      move[a].x -= dx * f;
      move[a].y -= dy * f;
      move[b].x += dx * f;
      move[b].y += dy * f;
    }
    for (let i = 0; i < pos.length; i++) {
      move[i].x += (width / 2 - pos[i].x) * 0.05;
      move[i].y += (height / 2 - pos[i].y) * 0.05;
      const len = Math.sqrt(move[i].x ** 2 + move[i].y ** 2) || 1;
      const m = Math.min(len, step);
      pos[i].x = Math.min(width - 30, Math.max(30, pos[i].x + (move[i].x / len) * m));
      pos[i].y = Math.min(height - 20, Math.max(20, pos[i].y + (move[i].y / len) * m));
    }
    step *= 0.985;
  }
  // Fit the drawing to the box (room on the right for labels), so a small neighbourhood is not a speck.
  const xs = pos.map((p) => p.x);
  const ys = pos.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min((width - 170) / Math.max(1, x1 - x0), (height - 60) / Math.max(1, y1 - y0), 2.5);
  const dx = (width - 130 - (x1 - x0) * scale) / 2;
  const dy = (height - (y1 - y0) * scale) / 2;
  return pos.map((p) => ({ x: dx + (p.x - x0) * scale, y: dy + (p.y - y0) * scale }));
}

/** Relations drawn crossing each other (sharing no endpoint): what makes a drawing hard to read. */
function crossings(pos, graph, index) {
  const segs = graph.edges.map((e) => [index.get(e.from), index.get(e.to)]);
  const side = (a, b, c) => Math.sign((b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x));
  let count = 0;
  for (let i = 0; i < segs.length; i++) {
    for (let j = i + 1; j < segs.length; j++) {
      const [a, b] = segs[i];
      const [c, d] = segs[j];
      if (a === c || a === d || b === c || b === d) continue;
      if (side(pos[a], pos[b], pos[c]) !== side(pos[a], pos[b], pos[d]) && side(pos[c], pos[d], pos[a]) !== side(pos[c], pos[d], pos[b])) count++;
    }
  }
  return count;
}

function drawGraph(graph, dbId) {
  const width = 640;
  const height = 520;
  const index0 = new Map(graph.nodes.map((n, i) => [n.name, i]));
  // A radial start and two scattered ones; keep the drawing with the fewest crossings (≤ 150 nodes: milliseconds).
  let pos;
  let best = Infinity;
  for (const seed of [0, 11, 23]) {
    const candidate = layout(graph.nodes, graph.edges, width, height, seed);
    const crossed = crossings(candidate, graph, index0);
    if (crossed < best) [pos, best] = [candidate, crossed];
    if (best === 0) break;
  }
  const index = new Map(graph.nodes.map((n, i) => [n.name, i]));
  const svg = s("svg", { class: "graph", viewBox: `0 0 ${width} ${height}`, "data-nodes": graph.nodes.length, "data-edges": graph.edges.length });
  for (const e of graph.edges) {
    const a = pos[index.get(e.from)];
    const b = pos[index.get(e.to)];
    const line = s("line", { x1: a.x.toFixed(1), y1: a.y.toFixed(1), x2: b.x.toFixed(1), y2: b.y.toFixed(1) });
    const title = s("title");
    title.textContent = `${e.from} ${e.relationType} ${e.to}`;
    line.append(title);
    svg.append(line);
    // Few relations: name them on the line; many: only on hover, or the labels bury the drawing.
    if (graph.edges.length <= 24) {
      const label = s("text", { class: "edge", x: ((a.x + b.x) / 2).toFixed(1), y: ((a.y + b.y) / 2 - 3).toFixed(1), "text-anchor": "middle" });
      label.textContent = e.relationType;
      svg.append(label);
    }
  }
  graph.nodes.forEach((n, i) => {
    const g = s("g", { class: "node", "data-name": n.name });
    const circle = s("circle", {
      cx: pos[i].x.toFixed(1),
      cy: pos[i].y.toFixed(1),
      r: n.depth === 0 ? 9 : Math.min(8, 4 + Math.log2(1 + n.degree)),
      class: n.depth === 0 ? "center" : n.depth > 1 ? "far" : "",
    });
    const title = s("title");
    title.textContent = `${n.name}${n.entityType ? ` (${n.entityType})` : ""} · ${n.degree} relations`;
    circle.append(title);
    circle.addEventListener("click", () => go("/?" + new URLSearchParams({ db: dbId, entity: n.name })));
    const label = s("text", { x: (pos[i].x + 11).toFixed(1), y: (pos[i].y + 4).toFixed(1) });
    label.textContent = n.name.length > 28 ? n.name.slice(0, 27) + "…" : n.name;
    g.append(circle, label);
    svg.append(g);
  });
  return svg;
}

route();
