// The inspector page: plain JavaScript, no build step, same-origin requests only (docs/inspector.md).
"use strict";
(() => {
  const $ = (sel) => document.querySelector(sel);
  const state = { view: "tasks", offsets: {}, clock: null, clockAt: 0, source: null, detail: null };
  const LIVE_VIEWS = ["tasks", "webhooks", "requests", "credits"];

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  async function call(method, url, body, contentType) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      init.headers["Content-Type"] = contentType || "application/json";
    }
    const response = await fetch(url, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = (data.error && data.error.message) || `${response.status} ${response.statusText}`;
      throw new Error(message);
    }
    return data;
  }

  const notice = (text, isError) => { const n = $("#notice"); n.textContent = text; n.className = isError ? "error" : ""; };

  // -- time -----------------------------------------------------------------------------------------
  function mockNow() {
    if (!state.clock) return 0;
    const running = state.clock.clock === "SystemClock" ? (performance.now() - state.clockAt) / 1000 : 0;
    return state.clock.now + running;
  }
  const clockText = (t) => (t === null || t === undefined ? "–" : new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z");
  const rel = (t, from) => { const d = t - from; return (d >= 0 ? "+" : "") + (Math.abs(d) < 100 ? d.toFixed(1) : Math.round(d)) + " s"; };
  function setClock(clock) {
    if (!clock) return;
    state.clock = clock;
    state.clockAt = performance.now();
    $("#clock-now").textContent = clockText(clock.now);
    $("#clock-kind").textContent = clock.clock === "FakeClock" ? "(fake clock: moves only when advanced)" : "";
    $("#clock-scale").textContent = String(clock.time_scale) + "×";
  }
  function countdown(next) {
    if (next === null || next === undefined) return "–";
    const left = next - mockNow();
    return left > 0 ? `in ${left < 100 ? left.toFixed(1) : Math.round(left)} s` : "due now";
  }
  const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };  // no relayout when equal
  setInterval(() => {
    if (document.hidden) return;
    for (const el of document.querySelectorAll("[data-next]")) setText(el, countdown(Number(el.dataset.next)));
    if (state.clock && state.clock.clock === "SystemClock") setText($("#clock-now"), clockText(mockNow()));
  }, 250);

  // -- rendering ------------------------------------------------------------------------------------
  const badge = (status) => h("span", { class: `status status-${status}` }, status);
  const fmtCost = (c) => (c === null || c === undefined ? "–" : Number(c).toFixed(4));
  const attemptText = (a) => `#${a.number} at ${clockText(a.at).slice(11, 19)}: ${a.status_code ?? a.error ?? "?"} (${Number(a.latency_ms).toFixed(1)} ms)`;

  function attemptsList(d) {
    return h("ol", { class: "attempts", "aria-label": `attempts of ${d.delivery_id}` },
      d.attempts.map((a) => h("li", { class: a.status_code >= 200 && a.status_code < 300 ? "" : "status-err" }, attemptText(a))));
  }
  function redeliverButton(d) {
    return h("button", { type: "button", "aria-label": `Redeliver ${d.delivery_id}`, onclick: async (ev) => {
      ev.target.disabled = true;
      try { await call("POST", `/_mock/webhooks/${encodeURIComponent(d.delivery_id)}/redeliver`); notice(`Redelivery of ${d.delivery_id} queued`); }
      catch (e) { notice(e.message, true); }
      finally { ev.target.disabled = false; }
    } }, "Redeliver");
  }
  function deliveryRow(d) {
    return h("tr", { "data-delivery": d.delivery_id },
      h("td", { class: "mono" }, d.delivery_id.slice(0, 12)),
      h("td", { class: "mono" }, d.task_id.slice(0, 12)),
      h("td", {}, d.event),
      h("td", { class: "mono" }, d.url),
      h("td", {}, badge(d.status)),
      h("td", {}, attemptsList(d)),
      h("td", { "data-next": d.status === "pending" && d.next_attempt_at != null ? d.next_attempt_at : null, class: "countdown" },
        d.status === "pending" ? countdown(d.next_attempt_at) : "–"),
      h("td", {}, redeliverButton(d)));
  }

  const RENDER = {
    tasks(data) {
      $("#tasks-rows").replaceChildren(...data.data.map((t) => h("tr", { "data-task": t.task_id },
        h("td", {}, h("button", { type: "button", class: "mono", "aria-label": `Open task ${t.task_id}`, onclick: () => openTask(t.task_id) }, t.task_id.slice(0, 12))),
        h("td", { class: "mono" }, t.key),
        h("td", {}, t.model),
        h("td", {}, t.function),
        h("td", {}, badge(t.task_status),
          h("ol", { class: "events" }, t.events.map((e) => h("li", { title: clockText(e.time) }, `${e.task_status} ${rel(e.time, t.created_at)}`)))),
        h("td", {}, t.planned_outcome, t.task_status === "processing" ? ` at ${rel(t.due_at, t.created_at)}` : ""),
        h("td", {}, fmtCost(t.cost)))));
      if (data.detail !== undefined) renderTask(data.detail);
    },
    webhooks(data) { $("#webhooks-rows").replaceChildren(...data.data.map(deliveryRow)); },
    requests(data) {
      const scope = $("#requests-scope");
      scope.hidden = !data.worker;
      setText(scope, data.worker ? `Requests of all ${data.worker.of} workers (at most 0.25 s behind). This page is served by worker ${data.worker.pid}, which keeps the bodies of the requests it answered only.` : "");
      $("#requests-rows").replaceChildren(...data.data.map((r) => h("tr", {},
        h("td", {}, clockText(r.time).slice(11, 19)),
        h("td", {}, r.method),
        h("td", { class: "mono" }, r.path + (r.query ? `?${r.query}` : "")),
        h("td", {}, h("span", { class: r.status >= 400 ? "status status-err" : "status status-success" }, r.status)),
        h("td", {}, `${Number(r.duration_ms).toFixed(1)} ms`),
        h("td", { class: "mono" }, r.key ?? ""),
        h("td", {}, r.error_message ? `${r.error_type}: ${r.error_message}` : ""),
        h("td", {}, r.has_bodies ? h("button", { type: "button", "aria-label": `Bodies of ${r.method} ${r.path}`, onclick: () => openRequest(r) }, "Bodies") : ""))));
    },
    credits(data) {
      $("#credits-rows").replaceChildren(...data.data.map((c) => h("tr", {},
        h("td", { class: "mono" }, c.key), h("td", {}, c.total ?? "unlimited"), h("td", {}, fmtCost(c.used)),
        h("td", {}, c.remaining === null ? "unlimited" : fmtCost(c.remaining)))));
    },
  };

  // -- the live stream ------------------------------------------------------------------------------
  function query(view) {
    const params = new URLSearchParams({ view });
    const form = document.querySelector(`.filters[data-view="${view}"]`);
    if (form) for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    params.set("offset", String(state.offsets[view] || 0));
    if (view === "tasks" && state.detail) params.set("detail", state.detail);
    return params;
  }
  function connect() {
    if (state.source) state.source.close();
    state.source = null;
    const live = $("#live");
    if (document.hidden) { live.textContent = "○ paused while hidden"; live.className = ""; return; }
    if (!LIVE_VIEWS.includes(state.view)) { live.textContent = ""; return; }
    const source = new EventSource(`/_mock/inspector/stream?${query(state.view)}`, { withCredentials: false });
    state.source = source;
    // Each stream ends after 10 s and reconnects at once: say "reconnecting" only when that takes a while.
    let lost = 0;
    source.onopen = () => { clearTimeout(lost); live.textContent = "● live"; live.className = "on"; };
    source.onerror = () => {
      clearTimeout(lost);
      lost = setTimeout(() => { live.textContent = "○ reconnecting"; live.className = ""; }, 2000);
    };
    source.onmessage = (ev) => {
      const data = JSON.parse(ev.data);
      if (data.error) { notice(data.error, true); return; }
      setClock(data.clock);
      const config = $("#config-status");
      const invalid = data.config && data.config.state === "invalid";
      config.hidden = !invalid;
      setText(config, invalid ? `Config file ${data.config.path} was not applied: ${data.config.error} (the last good version stays in force)` : "");
      const errors = $("#server-errors");
      errors.hidden = !data.errors;
      errors.textContent = `⚠ ${data.errors} server-side error${data.errors === 1 ? "" : "s"} (tracebacks in /_mock/requests)`;
      const render = RENDER[data.view];
      // Rows are rebuilt: keep keyboard focus on the same control (buttons are named by what they act on).
      const focused = document.activeElement && document.activeElement.getAttribute("aria-label");
      if (render && data.view === state.view) render(data);
      if (focused && document.activeElement === document.body) {
        const again = [...document.querySelectorAll("[aria-label]")].find((el) => el.getAttribute("aria-label") === focused);
        if (again) again.focus();
      }
      for (const pager of document.querySelectorAll(`.pager[data-view="${data.view}"]`)) {
        pager.querySelector('[data-page="-1"]').disabled = !data.offset;
        pager.querySelector('[data-page="1"]').disabled = !data.more;
      }
    };
  }

  function show(view) {
    state.view = view;
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      const on = tab.id === `tab-${view}`;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      $(`#${tab.getAttribute("aria-controls")}`).hidden = !on;
    }
    if (view === "rules") loadRules();
    connect();
  }

  // -- details --------------------------------------------------------------------------------------
  function output(o, i) {
    const label = `output ${i + 1}: ${o.kind} ${o.format}` + (o.width ? ` ${o.width}×${o.height}` : "") + (o.seconds ? ` ${o.seconds} s` : "");
    const media = o.kind === "image" ? h("img", { src: o.url, alt: label })
      : o.kind === "video" ? h("video", { src: o.url, controls: true, preload: "metadata", "aria-label": label })
      : h("audio", { src: o.url, controls: true, preload: "metadata", "aria-label": label });
    return h("figure", {}, media, h("figcaption", {}, label, " ", h("a", { href: o.url }, "open")));
  }
  function renderTask(t) {
    if (!t) { notice(`Task ${state.detail} is gone (reset?)`, true); closeTask(); return; }
    if (state.detail !== t.task_id) return;
    $("#task-detail-title").textContent = `Task ${t.task_id}: ${t.task_status}`;
    const shown = [...document.querySelectorAll("#task-outputs [src]")].map((el) => el.getAttribute("src")).join(" ");
    if (shown !== t.outputs.map((o) => o.url).join(" ")) $("#task-outputs").replaceChildren(...t.outputs.map(output));
    $("#task-deliveries").replaceChildren(t.deliveries.length
      ? h("table", { "aria-label": "This task's deliveries" }, h("tbody", {}, t.deliveries.map(deliveryRow)))
      : h("p", {}, t.webhook ? "no delivery yet" : "no webhook URL on this task"));
    $("#task-body").textContent = JSON.stringify(t.body, null, 2);
  }
  function openTask(id) {
    state.detail = id;
    $("#task-detail").hidden = false;
    $("#task-detail-title").textContent = `Task ${id}`;
    $("#task-outputs").replaceChildren();
    $("#task-detail-title").focus();
    connect();  // the stream carries the open task too, so its status, files and deliveries stay live
  }
  function closeTask() {
    state.detail = null;
    $("#task-detail").hidden = true;
    connect();
  }
  async function openRequest(r) {
    try {
      const b = await call("GET", `/_mock/inspector/requests/${encodeURIComponent(r.request_id)}`);
      const pretty = (text) => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; } };
      $("#request-detail-title").textContent = `${r.method} ${r.path} → ${r.status}`;
      $("#request-body").textContent = b.request_body ? pretty(b.request_body) + (b.request_truncated ? "\n… (cut)" : "") : "(empty)";
      $("#response-body").textContent = b.response_body ? pretty(b.response_body) + (b.response_truncated ? "\n… (cut)" : "") : "(empty)";
      $("#request-detail").hidden = false;
      $("#request-detail-title").focus();
    } catch (e) { notice(e.message, true); }
  }

  // -- rules ----------------------------------------------------------------------------------------
  async function loadRules() {
    try { $("#rules-yaml").value = (await call("GET", "/_mock/inspector/rules")).yaml; $("#rules-error").textContent = ""; }
    catch (e) { $("#rules-error").textContent = e.message; }
  }
  async function saveRules(ev) {
    ev.preventDefault();
    const error = $("#rules-error");
    try {
      const parsed = await call("POST", "/_mock/inspector/rules/parse", $("#rules-yaml").value, "application/yaml");
      const saved = await call("PUT", "/_mock/rules", parsed);
      error.textContent = "";
      $("#rules-yaml").removeAttribute("aria-invalid");
      notice(`Rules saved: ${saved.rules.length} in force`);
    } catch (e) {
      error.textContent = e.message;
      $("#rules-yaml").setAttribute("aria-invalid", "true");
    }
  }

  // -- wiring ---------------------------------------------------------------------------------------
  async function advance(seconds) {
    try { const r = await call("POST", "/_mock/clock/advance", { seconds }); notice(`Clock advanced by ${seconds} s (${r.timers_run} timers ran)`); setClock({ ...state.clock, now: r.now }); }
    catch (e) { notice(e.message, true); }
  }
  document.addEventListener("DOMContentLoaded", () => {
    for (const b of document.querySelectorAll("[data-advance]")) b.addEventListener("click", () => advance(Number(b.dataset.advance)));
    $("#advance-form").addEventListener("submit", (ev) => { ev.preventDefault(); advance(Number($("#advance-seconds").value)); });
    const tabs = [...document.querySelectorAll('[role="tab"]')];
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", () => show(tab.id.slice(4)));
      tab.addEventListener("keydown", (ev) => {
        const step = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
        if (step) { const next = tabs[(i + step + tabs.length) % tabs.length]; next.focus(); show(next.id.slice(4)); }
      });
    });
    for (const form of document.querySelectorAll(".filters")) {
      let timer = 0;
      const changed = () => { clearTimeout(timer); timer = setTimeout(() => { state.offsets[form.dataset.view] = 0; connect(); }, 200); };
      form.addEventListener("input", changed);
      form.addEventListener("submit", (ev) => ev.preventDefault());
    }
    for (const pager of document.querySelectorAll(".pager")) {
      for (const b of pager.querySelectorAll("[data-page]")) b.addEventListener("click", () => {
        const view = pager.dataset.view;
        state.offsets[view] = Math.max(0, (state.offsets[view] || 0) + Number(b.dataset.page) * 50);
        connect();
      });
    }
    $("#task-detail-close").addEventListener("click", closeTask);
    $("#rules-form").addEventListener("submit", saveRules);
    $("#rules-reload").addEventListener("click", loadRules);
    $("#reset-ask").addEventListener("click", () => { $("#reset-confirm").hidden = false; $("#reset-yes").focus(); });
    $("#reset-no").addEventListener("click", () => { $("#reset-confirm").hidden = true; });
    $("#reset-yes").addEventListener("click", async () => {
      $("#reset-confirm").hidden = true;
      try { await call("POST", "/_mock/reset"); state.detail = null; $("#task-detail").hidden = true; $("#request-detail").hidden = true; notice("Reset: every task, delivery and journal entry is gone"); connect(); }
      catch (e) { notice(e.message, true); }
    });
    // A tab in the background asks nothing of the mock; it catches up when shown again.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden || !state.source) connect();
    });
    show("tasks");
  });
})();
