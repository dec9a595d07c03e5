/* Backtests: the runs of the server's results folder as the engine wrote them (backtest/artifacts.py): summary,
   equity (marked at the mid and at the exit side) with the drawdown from the initial cash, rejected decisions
   by reason, trades, fills and decisions with their session labels, and the manifest. Integer timestamps are
   UTC nanoseconds; they are shown in ET with UTC on hover. */
"use strict";
const TIME_COLUMNS = /timestamp$|^signal_bar_(start|end)$/;

function cell(col, v) {
  if (v === null || v === undefined) return CM.td("—");
  if (TIME_COLUMNS.test(col) && typeof v === "number" && v > 1e17) return CM.td(CM.timeEl(CM.nsToMs(v), true));
  if (col === "reject_reason") return CM.td(CM.labelEl("reject", v));
  if (col === "session_label") return CM.td(CM.labelEl(["regular", "half_day"].includes(v) ? "historical" : "closed", v));
  if (typeof v === "number") return CM.td(Number.isInteger(v) ? CM.int(v) : CM.num(v, 4), "num");
  return CM.td(String(v));
}

function table(id, t) {
  const el = CM.$(id);
  el.querySelector("caption")?.remove();
  if (!t) { el.tHead.replaceChildren(); el.tBodies[0].replaceChildren(); return; }
  const hr = document.createElement("tr");
  for (const c of t.columns) { const th = document.createElement("th"); th.scope = "col"; th.textContent = c; hr.append(th); }
  el.tHead.replaceChildren(hr);
  el.tBodies[0].replaceChildren(...t.rows.map((r) => { const tr = document.createElement("tr"); for (const c of t.columns) tr.append(cell(c, r[c])); return tr; }));
  if (t.total_rows > t.rows.length) el.createCaption().textContent = `the first ${CM.int(t.rows.length)} of ${CM.int(t.total_rows)} rows`;
}

const SUMMARY_PCT = new Set(["total_return", "cagr", "max_drawdown", "win_rate"]);

function rejectsChart(rejects) {
  const reasons = Object.keys(rejects);
  const none = CM.$("#rejects-none");
  none.hidden = reasons.length > 0;
  CM.$("#rejects").hidden = !reasons.length;
  if (!reasons.length) return;
  Plotly.react("rejects", [{ type: "bar", orientation: "h", y: reasons, x: reasons.map((r) => rejects[r]), marker: { color: CM.css("--bad") }, name: "rejected decisions" }],
    CM.plotLayout({ showlegend: false, margin: { l: 170, r: 10, t: 10, b: 30 }, yaxis: { automargin: true, autorange: "reversed" } }), CM.plotConfig);
}

function equityChart(equity, drawdown) {
  const rows = equity.rows;
  // One point per session at its close: the session day is the axis (ET), the close instant is on hover.
  const x = rows.map((r, i) => r.session ?? (typeof r.timestamp === "number" ? CM.etAxis(CM.nsToMs(r.timestamp)) : i));
  const close = rows.map((r) => (typeof r.timestamp === "number" ? `close ${CM.etText(CM.nsToMs(r.timestamp))} ET` : ""));
  const traces = [{ type: "scatter", mode: "lines+markers", x, y: rows.map((r) => r.equity), text: close, name: "equity (positions at the mid)", line: { color: CM.css("--info") } }];
  if (equity.columns.includes("equity_bid_ask")) {
    traces.push({ type: "scatter", mode: "lines", x, y: rows.map((r) => r.equity_bid_ask), name: "equity (positions at the exit side: bid long, ask short)", line: { dash: "dot", width: 1 } });
  }
  traces.push({ type: "scatter", mode: "lines", fill: "tozeroy", x, y: drawdown || [], name: "drawdown from the peak", yaxis: "y2", line: { color: CM.css("--bad") } });
  Plotly.react("equity", traces, CM.plotLayout({
    yaxis: { domain: [0.35, 1], title: { text: "equity ($)" }, gridcolor: CM.css("--line") },
    yaxis2: { domain: [0, 0.28], title: { text: "drawdown" }, tickformat: ".1%", gridcolor: CM.css("--line") },
    xaxis: { anchor: "y2", type: "category", title: { text: "session (ET)" }, gridcolor: CM.css("--line") },
  }), CM.plotConfig);
  CM.$("#equity").dataset.points = String(rows.length);
}

/** The manifest as JSON, with the lake partitions it lists (one per dataset and day) in a folded table. */
function manifest(m) {
  const parts = Array.isArray(m.data_source?.partitions) ? m.data_source.partitions : null;
  const shown = parts ? { ...m, data_source: { ...m.data_source, partitions: `${parts.length} partitions, listed below` } } : m;
  CM.$("#manifest").textContent = JSON.stringify(shown, null, 2);
  CM.$("#partitions-box").hidden = !parts;
  if (!parts) return;
  CM.$("#partitions-count").textContent = CM.int(parts.length);
  table("#partitions", { columns: ["dataset", "day", "rows", "sha256"], rows: parts, total_rows: parts.length });
}

async function show(name) {
  const d = (await CM.api(`/v1/backtests/${encodeURIComponent(name)}/`)).results;
  CM.$("#run").hidden = false;
  CM.$("#run-title").textContent = `Run ${d.run}`;
  const s = d.summary || {};
  CM.dl(CM.$("#summary"), Object.entries(s).filter(([, v]) => typeof v !== "object" || v === null).map(([k, v]) => [k, SUMMARY_PCT.has(k) ? CM.pct(v, 2) : typeof v === "number" ? CM.num(v, Number.isInteger(v) ? 0 : 3) : String(v)]));
  rejectsChart(d.rejects_by_reason || {});
  if (d.equity) equityChart(d.equity, d.drawdown);
  table("#trades", d.trades);
  table("#fills", d.fills);
  table("#decisions", d.decisions);
  manifest(d.manifest || {});
  history.replaceState(null, "", `?run=${encodeURIComponent(name)}`);
}

CM.start(async () => {
  const runs = (await CM.api("/v1/backtests/")).results;
  const tbody = CM.$("#runs tbody");
  tbody.replaceChildren();
  for (const r of runs) {
    const tr = document.createElement("tr");
    tr.className = "clickable"; tr.tabIndex = 0; tr.dataset.run = r.run;
    const a = document.createElement("a"); a.href = `?run=${encodeURIComponent(r.run)}`; a.textContent = r.run;
    a.addEventListener("click", (e) => { e.preventDefault(); CM.guard(() => show(r.run)); });
    tr.append(CM.td(a), CM.td(r.strategy ?? "—"), CM.td(r.underlying ?? "—"), CM.td(r.from ?? "—"), CM.td(r.to ?? "—"),
      CM.td(CM.pct(r.total_return, 2), "num"), CM.td(CM.num(r.sharpe), "num"), CM.td(CM.pct(r.max_drawdown, 2), "num"), CM.td(CM.int(r.trades), "num"), CM.td(r.created_at ? CM.timeEl(Date.parse(r.created_at)) : "—"));
    tr.addEventListener("click", () => CM.guard(() => show(r.run)));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") CM.guard(() => show(r.run)); });
    tbody.append(tr);
  }
  if (!runs.length) {
    const p = CM.$("#runs-empty");
    p.textContent = "No backtest runs in the server's results folder yet: `cutemarkets backtest run` writes there by default (DATA_DIR/backtests, or --backtests-dir / CUTEMARKETS_BACKTESTS_DIR, the same setting as serve).";
    p.hidden = false;
  }
  const pick = CM.query("run") || runs[0]?.run;
  if (pick) await show(pick);
});
