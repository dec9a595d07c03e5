/* Backtests: the runs of the server's results folder, each with summary, equity and drawdown, rejects by
   reason, fills and decisions with their session labels, and the manifest. */
"use strict";
const TIME_COLUMNS = /timestamp|signal_bar_(start|end)/;

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
  if (!t) { el.tHead.replaceChildren(); el.tBodies[0].replaceChildren(); el.insertAdjacentText?.("beforebegin", ""); return; }
  const hr = document.createElement("tr");
  for (const c of t.columns) { const th = document.createElement("th"); th.scope = "col"; th.textContent = c; hr.append(th); }
  el.tHead.replaceChildren(hr);
  el.tBodies[0].replaceChildren(...t.rows.map((r) => { const tr = document.createElement("tr"); for (const c of t.columns) tr.append(cell(c, r[c])); return tr; }));
}

const SUMMARY_PCT = new Set(["total_return", "cagr", "max_drawdown", "win_rate"]);

async function show(name) {
  const d = (await CM.api(`/v1/backtests/${encodeURIComponent(name)}/`)).results;
  CM.$("#run").hidden = false;
  CM.$("#run-title").textContent = `Run ${d.run}`;
  const s = d.summary || {};
  CM.dl(CM.$("#summary"), Object.entries(s).filter(([, v]) => typeof v !== "object" || v === null).map(([k, v]) => [k, SUMMARY_PCT.has(k) ? CM.pct(v, 2) : typeof v === "number" ? CM.num(v, Number.isInteger(v) ? 0 : 3) : String(v)]));
  const rejects = d.rejects_by_reason || {};
  const reasons = Object.keys(rejects);
  Plotly.react("rejects", [{ type: "bar", orientation: "h", y: reasons, x: reasons.map((r) => rejects[r]), marker: { color: CM.css("--bad") }, name: "rejects" }],
    CM.plotLayout({ showlegend: false, margin: { l: 150, r: 10, t: 10, b: 30 } }), CM.plotConfig);
  if (d.equity) {
    const rows = d.equity.rows;
    const xcol = d.equity.columns.find((c) => /session|date|day|timestamp/.test(c));
    const x = rows.map((r, i) => (xcol ? (typeof r[xcol] === "number" && r[xcol] > 1e17 ? CM.etAxis(CM.nsToMs(r[xcol])) : r[xcol]) : i));
    const traces = [{ type: "scatter", mode: "lines", x, y: rows.map((r) => r.equity), name: "equity (marked at mid)", line: { color: CM.css("--info") } }];
    for (const [col, name] of [["equity_bid", "equity at bid"], ["equity_ask", "equity at ask"]]) {
      if (d.equity.columns.includes(col)) traces.push({ type: "scatter", mode: "lines", x, y: rows.map((r) => r[col]), name, line: { dash: "dot", width: 1 } });
    }
    traces.push({ type: "scatter", mode: "lines", fill: "tozeroy", x, y: d.drawdown, name: "drawdown", yaxis: "y2", line: { color: CM.css("--bad") } });
    Plotly.react("equity", traces, CM.plotLayout({
      yaxis: { domain: [0.35, 1], title: { text: "equity" }, gridcolor: CM.css("--line") },
      yaxis2: { domain: [0, 0.28], title: { text: "drawdown" }, tickformat: ".1%", gridcolor: CM.css("--line") },
      xaxis: { anchor: "y2", gridcolor: CM.css("--line") },
    }), CM.plotConfig);
  }
  table("#fills", d.fills);
  table("#decisions", d.decisions);
  CM.$("#manifest").textContent = JSON.stringify(d.manifest, null, 2);
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
    p.textContent = "No backtest runs in the server's results folder yet (serve --backtests-dir, default DATA_DIR/backtests).";
    p.hidden = false;
  }
  const pick = CM.query("run") || runs[0]?.run;
  if (pick) await show(pick);
});
