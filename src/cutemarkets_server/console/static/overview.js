/* Overview: server status, the market clock, the key's plan and limits, datasets with coverage by session. */
"use strict";
CM.start(async () => {
  const [status, clock, account, datasets] = await Promise.all([
    fetch("/v1/status/").then((r) => r.json()),
    CM.api("/v1/clock/"),
    CM.api("/v1/account/", {}, { raw: true }),
    CM.api("/v1/datasets/"),
  ]);

  const health = (state, text) => { const e = document.createElement("span"); e.className = state === "ok" ? "ok" : "bad"; e.textContent = text; return e; };
  CM.dl(CM.$("#status"), [
    ["status", health(status.status, status.status)],
    ...Object.entries(status.services).map(([name, s]) => [name, health(s.status, s.status + (s.latency_ms !== undefined ? ` · ${s.latency_ms} ms` : "") + (s.message ? ` · ${s.message}` : ""))]),
  ]);

  const c = clock.results;
  const nowMs = CM.nsToMs(c.now_ns);
  const closed = (label) => (["closed", "holiday"].includes(label) ? CM.labelEl("closed", `${label} · Session closed`) : CM.labelEl("live", label));
  CM.dl(CM.$("#clock"), [
    ["mode", c.mode + (c.replay ? ` · ${c.replay.day} at ${c.replay.speed ?? "max"}× from ${c.replay.start ?? "09:30"}` : "")],
    ["now", CM.timeEl(nowMs)],
    ["stocks session", closed(c.session_label)],
    ["options session", closed(c.options_session_label)],
    ["your data horizon", CM.timeEl(CM.nsToMs(c.horizon_ns))],
  ]);

  const a = account.body.results, h = account.headers;
  const limit = (lim, rem) => (lim === "unlimited" || !lim ? "unlimited" : `${rem} of ${lim} left`);
  CM.dl(CM.$("#account"), [
    ["name", a.name], ["plan", a.plan], ["products", a.products.join(", ")],
    ["freshness", a.timeframe === "DELAYED" ? "Delayed quote (15 min)" : "Live quote"],
    ["quotes routes", a.quotes ? "yes" : "no"], ["WebSocket", a.websocket ? "yes" : "no"],
    ["lookback", `${a.lookback_years} years (from ${a.lookback_from})`],
    ["this minute", limit(h.get("X-RateLimit-Limit-Minute"), h.get("X-RateLimit-Remaining-Minute"))],
    ["today", limit(h.get("X-RateLimit-Limit-Day"), h.get("X-RateLimit-Remaining-Day"))],
  ]);

  // Coverage: one cell per XNYS session between the earliest and latest stored day of any dataset.
  const rows = datasets.results;
  const sessions = new Set();
  for (const d of rows) { for (const c2 of d.coverage) sessions.add(c2.day); for (const m of d.missing_sessions) sessions.add(m); }
  const axis = [...sessions].sort();
  const tbody = CM.$("#datasets tbody");
  tbody.replaceChildren();
  for (const d of rows) {
    const tr = document.createElement("tr");
    const byDay = new Map(d.coverage.map((x) => [x.day, x]));
    const missing = new Set(d.missing_sessions);
    const bar = document.createElement("div"); bar.className = "coverage";
    bar.setAttribute("aria-label", `${d.days} days stored, ${missing.size} sessions missing`);
    for (const day of axis) {
      const cell = document.createElement("span");
      const got = byDay.get(day);
      cell.className = "cell" + (got ? "" : missing.has(day) ? " missing" : " nodata");
      cell.title = got ? `${day}: ${CM.int(got.rows)} rows` : missing.has(day) ? `${day}: missing session` : d.daily ? `${day}: outside this dataset's range` : `${day}: no change stored (reference data is kept as of each change)`;
      bar.append(cell);
    }
    tr.append(CM.td(d.dataset), CM.td(d.first_day), CM.td(d.last_day), CM.td(CM.int(d.days), "num"),
      CM.td(CM.int(missing.size), "num" + (missing.size ? " bad" : "")), CM.td(CM.int(d.rows), "num"),
      CM.td(CM.bytes(d.bytes), "num"), CM.td(bar));
    tbody.append(tr);
  }
});
