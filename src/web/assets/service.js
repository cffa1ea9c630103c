// One service's page: what it is now, the advisor's plan of its latest rollout, and three
// pictures the operator draws as SVG (rollout timeline, probe latency, dependency graph). The
// pictures are parsed as SVG documents and adopted, never assigned as HTML; everything else is
// written with textContent. No network beyond this origin.
"use strict";

(function () {
  const POLL_MS = 3000;
  const TOKEN_KEY = "chitty-operator-api-token";
  const PHASE_TONE = { Ready: "ok", Progressing: "info", Pending: "wait", Degraded: "warn", Failed: "bad", Suspended: "pause" };
  const HEALTH_TONE = { healthy: "ok", degraded: "warn", down: "bad", unknown: "wait" };
  const DECISION_TONE = { Immediate: "ok", Canary: "info", Wait: "warn", Abort: "bad" };

  const [, , namespace, service] = location.pathname.split("/").map(decodeURIComponent);
  const base = `${encodeURIComponent(namespace)}/${encodeURIComponent(service)}`;

  class AuthNeeded extends Error {}

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

  const badge = (tone, text) => el("span", { class: `badge tone-${tone || "wait"}`, text });
  const body = (id) => document.querySelector(`#${id} .panel-body`);

  async function get(path) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: "no-store" });
    if (response.status === 401) throw new AuthNeeded();
    if (!response.ok) {
      let detail = `${response.status}`;
      try { detail = (await response.json()).error || detail; } catch (_) { /* not JSON */ }
      throw new Error(`${path}: ${detail}`);
    }
    return response;
  }

  // The operator's SVG, as an SVG element of this document.
  async function picture(chart) {
    const text = await (await get(`/api/services/${base}/charts/${chart}.svg`)).text();
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    if (doc.querySelector("parsererror") || doc.documentElement.localName !== "svg") {
      throw new Error(`the ${chart} picture did not parse`);
    }
    return document.importNode(doc.documentElement, true);
  }

  function fact(term, ...value) {
    return [el("dt", { text: term }), el("dd", {}, ...value)];
  }

  function renderOverview(h) {
    document.getElementById("service-name").textContent = h.service;
    document.getElementById("service-where").textContent = `${h.namespace} · ${h.environment} · version ${h.version}`;
    document.title = `${h.service} · chitty-operator`;
    const latest = h.deployments[0];
    const url = h.url && /^https?:\/\//i.test(h.url)
      ? el("a", { href: h.url, rel: "noopener noreferrer", target: "_blank", text: h.url })
      : el("span", { class: "sub", text: h.url || "no URL yet" });
    body("overview").replaceChildren(el("dl", { class: "facts" },
      fact("Phase", badge(PHASE_TONE[h.phase], h.phase)),
      fact("Health", badge(HEALTH_TONE[h.health], h.health)),
      fact("URL", url),
      fact("ChittyID", el("span", { class: "mono", text: h.chittyId || "not minted yet" })),
      fact("Serving", el("span", { class: "mono", text: h.currentDeployment || "nothing yet" })),
      fact("Latest rollout", latest
        ? el("span", {}, el("span", { class: "mono", text: latest.deploymentId }), ` · ${latest.status.replace("_", " ")}`, latest.error ? el("span", { class: "sub", text: latest.error }) : null)
        : el("span", { class: "sub", text: "none yet" }))));
  }

  // Set through the CSS object model, which the page's Content-Security-Policy allows.
  function confidenceFill(percent) {
    const fill = el("span", { class: "confidence-fill" });
    fill.style.width = `${Math.max(0, Math.min(percent, 100))}%`;
    return fill;
  }

  function renderPlan(h) {
    const rollout = h.deployments.find((d) => d.plan);
    if (!rollout) {
      body("plan").replaceChildren(el("p", { class: "empty", text: "No rollout has been planned yet." }));
      return;
    }
    const p = rollout.plan;
    const percent = Math.round(Number(p.confidence) * 100);
    const inputs = p.inputs || {};
    const said = [
      inputs.change && `change: ${inputs.change}${inputs.runningVersion ? ` (from ${inputs.runningVersion})` : ""}`,
      inputs.history && `history: ${inputs.history}`,
      ...(inputs.dependencies || []).map((d) => `dependency: ${d}`),
      inputs.ecosystemHealthyPercent !== undefined && `ecosystem healthy: ${inputs.ecosystemHealthyPercent}%`,
      `rollouts in progress: ${inputs.rolloutsInProgress || 0}`,
      inputs.window && `window: ${inputs.window}`,
    ].filter(Boolean);
    body("plan").replaceChildren(...[
      el("div", { class: "plan-head", "data-plan": p.decision },
        badge(DECISION_TONE[p.decision], `${p.decision}${p.decision === "Canary" && p.canaryPercent ? ` ${p.canaryPercent}%` : ""}`),
        el("span", { class: "sub", text: `for ${rollout.deploymentId} · ${p.followed ? "followed" : "recorded as advice"}` })),
      el("div", { class: "confidence" },
        el("span", { text: "Confidence" }),
        el("span", { class: "confidence-bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(percent), "aria-label": "confidence" },
          confidenceFill(percent)),
        el("strong", { text: `${percent}%` })),
      el("h3", { text: "Why" }),
      el("ul", { class: "reasons" }, (p.reasons || []).map((r) => el("li", { text: r }))),
      p.model ? el("p", { class: "sub", text: `Model: ${p.model.decision || "no decision"}${p.model.reason ? ` — ${p.model.reason}` : ""} (${p.model.note})` }) : null,
      el("h3", { text: "From" }),
      el("ul", { class: "inputs" }, said.map((s) => el("li", { text: s }))),
    ].filter(Boolean));
  }

  // --- the loop ------------------------------------------------------------------------------
  const connection = document.getElementById("connection");
  const tokenForm = document.getElementById("token-form");
  let updates = 0;

  function setConnection(kind, text) {
    connection.className = `connection connection-${kind}`;
    connection.textContent = text;
  }

  async function refresh() {
    try {
      const [history, timeline, latency, graph] = await Promise.all([
        get(`/api/deploy/status/${base}`).then((r) => r.json()),
        picture("timeline"),
        picture("latency"),
        picture("graph"),
      ]);
      tokenForm.hidden = true;
      renderOverview(history);
      renderPlan(history);
      body("timeline").replaceChildren(timeline);
      body("latency").replaceChildren(latency);
      body("graph").replaceChildren(graph);
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

  tokenForm.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value.trim());
    document.getElementById("token-input").value = "";
    tokenForm.hidden = true;
    setConnection("pending", "Connecting…");
  });

  refresh();
})();
