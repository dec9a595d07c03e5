/* Option chain: calls and puts around the money as of a chosen instant, with greeks and the IV smile. */
"use strict";
const STALE_MS = 60_000;

async function defaultAsOf() {
  const ds = await CM.api("/v1/datasets/");
  const quotes = ds.results.find((d) => d.dataset === "option_quotes");
  return quotes ? `${quotes.last_day}T15:45:00` : "";
}

async function loadExpirations(underlying, asOfLocal) {
  const day = asOfLocal ? asOfLocal.slice(0, 10) : undefined;
  const rows = await CM.apiAll("/v1/options/contracts/", { underlying_ticker: underlying, as_of: day, "expiration_date.gte": day, limit: 1000 }, 5);
  return [...new Set(rows.map((r) => r.expiration_date))].sort();
}

/** The nearest listed expiration on or after the day viewed: one small request, so the chain need not wait
    for the whole list of expirations. */
async function nearestExpiration(underlying, asOfLocal) {
  const day = asOfLocal ? asOfLocal.slice(0, 10) : undefined;
  const body = await CM.api("/v1/options/contracts/", { underlying_ticker: underlying, as_of: day, "expiration_date.gte": day, sort: "expiration_date", order: "asc", limit: 1 });
  return body.results?.[0]?.expiration_date;
}

/** Calls and puts are fetched side by side (each follows its own pages). */
async function fetchChain(underlying, expiration, asOf) {
  const path = `/v1/options/chain/${encodeURIComponent(underlying)}/`;
  const side = (type) => CM.apiAll(path, { expiration_date: expiration, contract_type: type, as_of: asOf, limit: 250 }, 4);
  const [calls, puts] = await Promise.all([side("call"), side("put")]);
  return calls.concat(puts);
}

function sideCells(snap, refMs, mode, spot, isCall) {
  const q = snap?.last_quote, g = snap?.greeks || {};
  const cells = [];
  let labelCell;
  if (snap) {
    const tsMs = q ? CM.nsToMs(q.last_updated) : null;
    const kind = CM.quoteKind({ bid: q?.bid, ask: q?.ask, tsMs, refMs, staleMs: STALE_MS, mode });
    const short = { live: "Live", delayed: "Delayed", historical: "Historical", stale: "Stale", none: "No quote" }[kind];
    labelCell = CM.td(CM.labelEl(kind, short, `${CM.LABELS[kind]}${tsMs ? " · quote age " + CM.age(refMs - tsMs) : ""}`));
  } else labelCell = CM.td("");
  const vals = snap ? [
    CM.num(q?.bid), CM.num(q?.ask), CM.num(snap.last_trade?.price), CM.int(snap.day?.volume), CM.int(snap.open_interest),
    snap.implied_volatility != null ? CM.pct(snap.implied_volatility, 1) : "—",
    CM.num(g.delta, 3), CM.num(g.gamma, 4), CM.num(g.theta, 3), CM.num(g.vega, 3),
  ] : Array(10).fill("");
  const itm = snap && spot != null && (isCall ? snap.details.strike_price < spot : snap.details.strike_price > spot);
  const names = ["bid", "ask", "last", "volume", "oi", "iv", "delta", "gamma", "theta", "vega"];
  vals.forEach((v, i) => {
    const c = CM.td(v, "num pick" + (itm ? " itm" : ""));
    c.dataset.field = (isCall ? "call-" : "put-") + names[i];
    cells.push(c);
  });
  return isCall ? [labelCell, ...cells] : [...cells, labelCell];
}

let listPending = false;

function sessionLabel(label) {
  const open = ["regular", "half_day"].includes(label);
  return CM.labelEl(open ? "historical" : "closed", open ? `options ${label}` : `${label} · Session closed`);
}

/** Fills the expiration picker once the chain has painted (so the list never delays the chain). */
function fillExpirations(underlying, asOfLocal, listKey) {
  const expSel = CM.$("#expiration");
  loadExpirations(underlying, asOfLocal).then((exps) => {
    if (expSel.dataset.for !== listKey) return;
    const keep = expSel.value;
    expSel.replaceChildren(...exps.map((e) => new Option(e, e)));
    if (exps.includes(keep)) expSel.value = keep;
  }).catch((err) => CM.showError(err));
}

async function render() {
  const underlying = CM.$("#underlying").value.trim().toUpperCase();
  const asOfLocal = CM.$("#as-of").value;
  const expSel = CM.$("#expiration");
  const asOf = CM.etLocalToRfc3339(asOfLocal);
  const listKey = `${underlying}|${asOfLocal.slice(0, 10)}`;
  if (expSel.dataset.for !== listKey) {
    const day = asOfLocal.slice(0, 10);
    const previous = expSel.dataset.for ? expSel.value : CM.query("expiration");
    const sameUnderlying = !expSel.dataset.for || expSel.dataset.for.startsWith(`${underlying}|`);
    const keep = previous && sameUnderlying && (!day || previous >= day) ? previous : null;
    const expiration = keep || (await nearestExpiration(underlying, asOfLocal));
    if (!expiration) throw new Error(`No listed expirations for ${underlying} as of ${asOfLocal || "now"}.`);
    expSel.replaceChildren(new Option(expiration, expiration));
    expSel.dataset.for = listKey;
    listPending = true;
  }
  const expiration = expSel.value;
  const [rows, clockBody] = await Promise.all([fetchChain(underlying, expiration, asOf), CM.api("/v1/clock/", { at: asOf })]);
  const clock = clockBody.results;
  const refMs = asOf ? Date.parse(asOf) : CM.nsToMs(clock.horizon_ns);
  const account = asOf ? null : (await CM.api("/v1/account/")).results;
  const mode = asOf ? "historical" : account.timeframe === "DELAYED" ? "delayed" : "live";

  const byStrike = new Map();
  let spot = null;
  for (const r of rows) {
    const k = r.details.strike_price;
    if (!byStrike.has(k)) byStrike.set(k, {});
    byStrike.get(k)[r.details.contract_type] = r;
    if (r.underlying_asset?.price != null) spot = r.underlying_asset.price;
  }
  let strikes = [...byStrike.keys()].sort((a, b) => a - b);
  const width = Number(CM.$("#width").value);
  let atm = null;
  if (spot != null && strikes.length) {
    atm = strikes.reduce((best, k) => (Math.abs(k - spot) < Math.abs(best - spot) ? k : best), strikes[0]);
    if (width > 0) {
      const i = strikes.indexOf(atm);
      strikes = strikes.slice(Math.max(0, i - width), i + width + 1);
    }
  }
  const tbody = CM.$("#chain tbody");
  tbody.replaceChildren();
  for (const k of strikes) {
    const pair = byStrike.get(k);
    const tr = document.createElement("tr");
    if (k === atm) tr.className = "atm";
    const strike = CM.td(CM.num(k, k % 1 ? 2 : 0), "strike");
    tr.append(...sideCells(pair.call, refMs, mode, spot, true), strike, ...sideCells(pair.put, refMs, mode, spot, false));
    const open = (snap) => { if (snap) location.href = `/console/contract?ticker=${encodeURIComponent(snap.details.ticker)}&as_of=${encodeURIComponent(asOfLocal)}`; };
    tr.querySelectorAll("td").forEach((c, i) => {
      if (i < 11) { c.addEventListener("click", () => open(pair.call)); if (pair.call) c.title ||= pair.call.details.ticker; }
      if (i > 11) { c.addEventListener("click", () => open(pair.put)); if (pair.put) c.title ||= pair.put.details.ticker; }
    });
    for (const [snap, side] of [[pair.call, "call"], [pair.put, "put"]]) {
      if (!snap) continue;
      const a = document.createElement("a");
      a.href = `/console/contract?ticker=${encodeURIComponent(snap.details.ticker)}&as_of=${encodeURIComponent(asOfLocal)}`;
      a.textContent = side === "call" ? "C" : "P"; a.className = "open";
      a.setAttribute("aria-label", `Open ${snap.details.ticker}`);
      a.addEventListener("click", (e) => e.stopPropagation());
      strike.append(" ", a);
    }
    tr.dataset.strike = k;
    tbody.append(tr);
  }
  CM.$("#chain-meta").replaceChildren(
    `${underlying} ${expiration} · ${rows.length} contracts · underlying ${spot != null ? CM.num(spot) : "—"} · `,
    asOf ? "as of " : "now: ", CM.timeEl(refMs), ` · quotes older than ${STALE_MS / 1000} s are labelled stale · `,
    CM.labelEl(mode), " ", sessionLabel(asOf ? clock.at.options_session_label : clock.options_session_label),
  );

  document.body.dataset.painted = String(performance.now());
  if (listPending) { listPending = false; fillExpirations(underlying, asOfLocal, listKey); }
  history.replaceState(null, "", `?underlying=${underlying}&expiration=${expiration}&as_of=${encodeURIComponent(asOfLocal)}`);
  const shown = new Set(strikes);
  await drawSmile(rows.filter((r) => shown.has(r.details.strike_price)), spot);
}

async function drawSmile(rows, spot) {
  const Plotly = await CM.plotly();
  const trace = (type, color) => {
    const pts = rows.filter((r) => r.details.contract_type === type && r.implied_volatility != null).sort((a, b) => a.details.strike_price - b.details.strike_price);
    return { x: pts.map((r) => r.details.strike_price), y: pts.map((r) => r.implied_volatility), name: `${type}s`, mode: "lines+markers", type: "scatter", line: { color } };
  };
  const layout = CM.plotLayout({ xaxis: { title: { text: "strike" }, gridcolor: CM.css("--line") }, yaxis: { title: { text: "implied volatility" }, tickformat: ".0%", gridcolor: CM.css("--line") } });
  if (spot != null) layout.shapes = [{ type: "line", x0: spot, x1: spot, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: CM.css("--muted") } }];
  await Plotly.react("smile", [trace("call", CM.css("--info")), trace("put", CM.css("--warn"))], layout, CM.plotConfig);
  document.body.dataset.smile = "1";
}

CM.start(async () => {
  CM.$("#underlying").value = CM.query("underlying") || "SPY";
  CM.$("#as-of").value = CM.query("as_of") ?? (await defaultAsOf());
  CM.$("#chain-form").addEventListener("submit", (e) => { e.preventDefault(); CM.guard(render); });
  CM.$("#as-of").addEventListener("change", () => CM.guard(render));
  CM.$("#expiration").addEventListener("change", () => CM.guard(render));
  CM.$("#width").addEventListener("change", () => CM.guard(render));
  await render();
});
