// The fleet dashboard: polls the read API and redraws in place. No framework, no network beyond
// this origin. Everything the API returns is written with textContent, never as HTML: service
// names, errors and messages come from users' manifests.
"use strict";

(function () {
  const POLL_MS = 2000;
  const TOKEN_KEY = "chitty-operator-api-token";

  const PHASES = {
    Ready: { tone: "ok", symbol: "✓" },
    Progressing: { tone: "info", symbol: "↻" },
    Pending: { tone: "wait", symbol: "…" },
    Degraded: { tone: "warn", symbol: "▲" },
    Failed: { tone: "bad", symbol: "✗" },
    Suspended: { tone: "pause", symbol: "⏸" },
  };
  const HEALTH = {
    healthy: { tone: "ok", symbol: "✓" },
    degraded: { tone: "warn", symbol: "▲" },
    down: { tone: "bad", symbol: "✗" },
    unknown: { tone: "wait", symbol: "?" },
  };
  const STEP_SYMBOL = { Succeeded: "✓", Running: "●", Pending: "○", Failed: "✗", Skipped: "–" };
  const OUTCOME = {
    failed: { tone: "bad", symbol: "✗", word: "Failed" },
    rolled_back: { tone: "bad", symbol: "↩", word: "Rolled back" },
    recovered: { tone: "warn", symbol: "▲", word: "Failed earlier" },
  };

  class AuthNeeded extends Error {}

  // --- small DOM helpers ---------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "title" || key === "role") node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function badge(kind, word, extraClass) {
    const look = kind || { tone: "wait", symbol: "?" };
    return el("span", { class: `badge tone-${look.tone}${extraClass ? " " + extraClass : ""}`, text: `${look.symbol} ${word}` });
  }

  function link(url) {
    if (!url) return el("span", { class: "sub", text: "no URL yet" });
    if (!/^https?:\/\//i.test(url)) return el("span", { text: url });
    return el("a", { href: url, rel: "noopener noreferrer", target: "_blank", text: url });
  }

  function ago(iso) {
    if (!iso) return "";
    const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (!isFinite(seconds)) return iso;
    if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} d ago`;
  }

  function body(sectionId) {
    return document.querySelector(`#${sectionId} .panel-body`);
  }

  function title(sectionId, text, count) {
    const h = document.querySelector(`#${sectionId} h2`);
    h.replaceChildren(text, count === undefined ? "" : el("span", { class: "count", text: ` (${count})` }));
  }

  // --- fetching ------------------------------------------------------------------------------
  function headers() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  // A replica on standby answers 503 with Retry-After when it may not pass the token on to the
  // leader; through the Service, a retry soon lands on the leader.
  async function fetchRetrying(path) {
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(path, { headers: headers(), cache: "no-store" });
      const retryAfter = Number(response.headers.get("Retry-After"));
      if (response.status !== 503 || !retryAfter || attempt >= 4) return response;
      await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfter, 2) * 1000));
    }
  }

  async function getJSON(path) {
    const response = await fetchRetrying(path);
    if (response.status === 401) throw new AuthNeeded();
    if (!response.ok) {
      let detail = `${response.status}`;
      try { detail = (await response.json()).error || detail; } catch (_) { /* not JSON */ }
      throw new Error(`${path}: ${detail}`);
    }
    return response.json();
  }

  // Follows `continue` tokens, so a large fleet arrives in pages of 1000.
  async function everything(path, key, filter) {
    const items = [];
    let token = null;
    for (let page = 0; page < 50; page++) {
      const query = `${filter ? `${filter}&` : ""}limit=1000${token ? `&continue=${encodeURIComponent(token)}` : ""}`;
      const data = await getJSON(`${path}?${query}`);
      items.push(...data[key]);
      token = data.continue;
      if (!token) break;
    }
    return items;
  }

  // The routes view belongs to the RouteClaim controller; an operator without it still has a
  // dashboard, it just says so.
  // It needs access to every namespace (403 otherwise); its claims come in pages.
  async function routes() {
    const claims = [];
    let conflicts = [];
    let token = null;
    for (let page = 0; page < 50; page++) {
      const query = `limit=1000${token ? `&continue=${encodeURIComponent(token)}` : ""}`;
      const response = await fetchRetrying(`/api/admin/routes?${query}`);
      if (response.status === 401) throw new AuthNeeded();
      if (response.status === 404) return { available: false, why: "This operator does not serve the route claims view (/api/admin/routes)." };
      if (response.status === 403) return { available: false, why: "Route claims are shown only to callers who may see every namespace." };
      if (!response.ok) return { available: false, why: `Route claims are not available yet (HTTP ${response.status}).` };
      const data = await response.json();
      claims.push(...(data.claims || []));
      if (page === 0) conflicts = data.conflicts || [];
      token = data.continue;
      if (!token) break;
    }
    return { available: true, claims, conflicts };
  }

  // --- filters -------------------------------------------------------------------------------
  const filters = { namespace: "", environment: "" };

  function readFilters() {
    const params = new URLSearchParams(location.search);
    filters.namespace = params.get("namespace") || "";
    filters.environment = params.get("environment") || "";
    document.getElementById("filter-environment").value = filters.environment;
  }

  function writeFilters() {
    const params = new URLSearchParams();
    if (filters.namespace) params.set("namespace", filters.namespace);
    if (filters.environment) params.set("environment", filters.environment);
    const query = params.toString();
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
  }

  function selected(item) {
    return (!filters.namespace || item.namespace === filters.namespace) &&
      (!filters.environment || item.environment === filters.environment);
  }

  function namespaceOptions(services) {
    const select = document.getElementById("filter-namespace");
    const names = [...new Set(services.map((s) => s.namespace))].sort();
    if (filters.namespace && !names.includes(filters.namespace)) names.push(filters.namespace);
    const wanted = ["", ...names].join("\n");
    const have = [...select.options].map((o) => o.value).join("\n");
    if (wanted !== have) {
      select.replaceChildren(el("option", { value: "", text: "All namespaces" }), ...names.map((n) => el("option", { value: n, text: n })));
    }
    select.value = filters.namespace;
  }

  // --- rendering -----------------------------------------------------------------------------
  function renderSummary(services) {
    const counts = {};
    for (const s of services) counts[s.phase] = (counts[s.phase] || 0) + 1;
    const chips = Object.keys(PHASES).filter((p) => counts[p]).map((p) => badge(PHASES[p], `${counts[p]} ${p}`));
    const total = el("span", { class: "badge tone-wait", text: `${services.length} service${services.length === 1 ? "" : "s"}` });
    document.getElementById("summary").replaceChildren(total, ...chips);
  }

  function renderServices(services) {
    title("services", "Services", services.length);
    if (!services.length) {
      body("services").replaceChildren(el("p", { class: "empty", text: "No ChittyServices match these filters." }));
      return;
    }
    const rows = services.map((s) =>
      el("tr", { "data-service": `${s.namespace}/${s.name}` },
        el("td", {}, el("a", { class: "service-link", href: `/services/${encodeURIComponent(s.namespace)}/${encodeURIComponent(s.name)}`, title: "Rollouts, plan, health and dependencies" }, el("strong", { text: s.name })),
          el("span", { class: "sub", text: s.namespace })),
        el("td", { "data-column": "phase" }, badge(PHASES[s.phase], s.phase),
          s.metadata.message ? el("span", { class: "sub", text: s.metadata.message }) : null),
        el("td", { "data-column": "health" }, badge(HEALTH[s.health], s.health)),
        el("td", { class: "mono", text: s.version }),
        el("td", { text: s.environment }),
        el("td", { class: "mono nowrap", text: s.chitty_id || "not minted yet" }),
        el("td", {}, link(s.url))));
    const table = el("table", {},
      el("thead", {}, el("tr", {}, ["Service", "Phase", "Health", "Version", "Environment", "ChittyID", "URL"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows));
    body("services").replaceChildren(table);
  }

  function renderRollouts(deployments) {
    const active = deployments.filter((d) => d.status === "in_progress" || (d.status === "pending" && d.deploymentId));
    title("rollouts", "Rollouts in progress", active.length);
    if (!active.length) {
      body("rollouts").replaceChildren(el("p", { class: "empty", text: "No rollouts in progress." }));
      return;
    }
    const cards = active.map((d) => {
      const percent = Math.round((d.progress || 0) * 100);
      const done = d.steps.filter((s) => s.phase === "Succeeded" || s.phase === "Skipped").length;
      const running = d.steps.find((s) => s.phase === "Running");
      const stepText = d.currentStep
        ? `Step ${d.currentStep}${running && running.message ? `: ${running.message}` : ""}`
        : "Waiting to start";
      return el("article", { class: "rollout", "data-rollout": `${d.namespace}/${d.service}` },
        el("div", { class: "rollout-head" },
          el("strong", { text: d.service }),
          el("span", { class: "sub", text: `${d.namespace} · ${d.environment} · version ${d.version}` }),
          badge(d.status === "pending" ? PHASES.Pending : PHASES.Progressing, d.status === "pending" ? "Pending" : "In progress"),
          el("span", { class: "sub mono", text: d.deploymentId || "" })),
        el("p", { class: "rollout-step", "data-current-step": d.currentStep || "", text: stepText }),
        d.plan ? el("p", { class: "rollout-plan", "data-plan": d.plan.decision,
          title: (d.plan.reasons || []).join("\n"),
          text: `Plan: ${d.plan.decision}${d.plan.decision === "Canary" && d.plan.canaryPercent ? ` ${d.plan.canaryPercent}%` : ""} · confidence ${Number(d.plan.confidence).toFixed(2)}${d.plan.followed ? "" : " (advice)"} — ${(d.plan.reasons || [])[0] || ""}` }) : null,
        el("div", { class: "progress-line" },
          el("progress", { max: 100, value: percent, "aria-label": `${d.service} rollout progress` }),
          el("span", { class: "progress-text", text: `${percent}% · ${done} of ${d.steps.length} steps done` })),
        el("ol", { class: "steps", "aria-label": "Steps" },
          d.steps.map((s) => el("li", { class: `step step-${s.phase}`, title: `${s.name}: ${s.phase}${s.message ? ` — ${s.message}` : ""}`, "data-step": s.name, "data-phase": s.phase },
            `${STEP_SYMBOL[s.phase] || "?"} ${s.name}`, el("span", { class: "sr-only", text: ` (${s.phase})` })))));
    });
    body("rollouts").replaceChildren(...cards);
  }

  function renderFailures(deployments, services) {
    const items = deployments
      .filter((d) => d.status === "failed" || d.status === "rolled_back")
      .map((d) => ({
        key: `${d.namespace}/${d.service}`, service: d.service, namespace: d.namespace, outcome: d.status,
        deployment: d.deploymentId, reason: d.error || "no reason recorded", when: d.finishedAt,
        rolledBackTo: d.rolledBackTo,
      }));
    const failing = new Set(items.map((i) => i.key));
    for (const s of services) {
      const key = `${s.namespace}/${s.name}`;
      if (s.metadata.last_failure && !failing.has(key)) {
        const [deployment, ...rest] = s.metadata.last_failure.split(": ");
        items.push({ key, service: s.name, namespace: s.namespace, outcome: "recovered", deployment, reason: rest.join(": ") || "no reason recorded", when: null });
      }
    }
    items.sort((a, b) => (b.when || "").localeCompare(a.when || "") || a.key.localeCompare(b.key));
    title("failures", "Recent failures and rollbacks", items.length);
    if (!items.length) {
      body("failures").replaceChildren(el("p", { class: "empty", text: "No failed or rolled-back rollouts." }));
      return;
    }
    body("failures").replaceChildren(...items.map((i) =>
      el("article", { class: `failure${i.outcome === "recovered" ? " recovered" : ""}`, "data-failure": i.key },
        el("div", {}, badge(OUTCOME[i.outcome], OUTCOME[i.outcome].word), " ", el("strong", { text: i.service }),
          el("span", { class: "sub", text: ` ${i.namespace} · ${i.deployment || ""}${i.rolledBackTo ? ` → back to ${i.rolledBackTo}` : ""}` })),
        el("p", { class: "reason", text: i.reason }),
        i.when ? el("span", { class: "when", title: i.when, text: ago(i.when) }) : null)));
  }

  function renderConflicts(view) {
    if (!view.available) {
      title("conflicts", "Route conflicts");
      body("conflicts").replaceChildren(el("p", { class: "empty", "data-routes": "unavailable", text: view.why }));
      return;
    }
    const inNamespace = (id) => !filters.namespace || (id || "").startsWith(`${filters.namespace}/`);
    const conflicts = view.conflicts.filter((c) => inNamespace(c.holder) || (c.losers || []).some(inNamespace));
    title("conflicts", "Route conflicts", conflicts.length);
    if (!conflicts.length) {
      body("conflicts").replaceChildren(el("p", { class: "empty", "data-routes": "none", text: `No route conflicts among ${view.claims.length} claim${view.claims.length === 1 ? "" : "s"}.` }));
      return;
    }
    const claimLine = (look, word, id) =>
      el("div", { class: "claim" }, badge(look, word), " ", el("span", { class: "mono claim-id", text: id }));
    const rows = conflicts.map((c) =>
      el("tr", { "data-conflict": `${c.host}${c.path}` },
        el("td", { class: "mono", text: `${c.host}${c.path}` }),
        el("td", {}, c.holder ? claimLine(PHASES.Ready, "held by", c.holder) : badge(PHASES.Failed, "nobody holds it")),
        el("td", {}, (c.losers || []).map((l) => claimLine(PHASES.Failed, "lost:", l)))));
    body("conflicts").replaceChildren(el("table", {},
      el("thead", {}, el("tr", {}, ["Route", "Holder", "Losers"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows)));
  }

  // --- the loop ------------------------------------------------------------------------------
  const connection = document.getElementById("connection");
  const tokenForm = document.getElementById("token-form");
  let last = null;
  let updates = 0;

  function setConnection(kind, text) {
    connection.className = `connection connection-${kind}`;
    connection.textContent = text;
  }

  function render() {
    if (!last) return;
    namespaceOptions(last.services);
    const services = last.services.filter(selected);
    const deployments = last.deployments.filter(selected);
    renderSummary(services);
    renderRollouts(deployments);
    renderServices(services);
    renderFailures(deployments, services);
    renderConflicts(last.routes);
  }

  async function refresh() {
    try {
      const [services, deployments, routeView] = await Promise.all([
        everything("/api/services", "services"),
        // Only the rollouts the page shows: running, waiting, failed, rolled back.
        everything("/api/deploy/status", "deployments", "status=pending,in_progress,failed,rolled_back"),
        routes(),
      ]);
      last = { services, deployments, routes: routeView };
      tokenForm.hidden = true;
      render();
      updates += 1;
      document.body.dataset.updates = String(updates);
      setConnection("live", `● Live · updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (error instanceof AuthNeeded) {
        tokenForm.hidden = false;
        setConnection("auth", "🔒 Token needed");
      } else {
        setConnection("lost", `✗ Not updating: ${error.message}`);
      }
    } finally {
      setTimeout(refresh, POLL_MS);
    }
  }

  document.getElementById("filter-namespace").addEventListener("change", (e) => {
    filters.namespace = e.target.value;
    writeFilters();
    render();
  });
  document.getElementById("filter-environment").addEventListener("change", (e) => {
    filters.environment = e.target.value;
    writeFilters();
    render();
  });
  tokenForm.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value.trim());
    document.getElementById("token-input").value = "";
    tokenForm.hidden = true;
    setConnection("pending", "Connecting…");
  });

  readFilters();
  refresh();
})();
