/* Contract: reference details, the snapshot as of an instant, candles with volume, and the quotes and trades
   tapes up to that instant, each row labelled with the freshness vocabulary of the timestamps guide. */
"use strict";
const SPAN_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

function mode(asOf, account) { return asOf ? "historical" : account.timeframe === "DELAYED" ? "delayed" : "live"; }

async function render() {
  const ticker = CM.$("#ticker").value.trim();
  const asOfLocal = CM.$("#as-of").value;
  const asOf = CM.etLocalToRfc3339(asOfLocal);
  const staleMs = Number(CM.$("#stale").value || 60) * 1000;
  const [mult, span] = CM.$("#span").value.split("/");
  const [account, clock] = await Promise.all([CM.api("/v1/account/"), CM.api("/v1/clock/", { at: asOf })]);
  const refMs = asOf ? Date.parse(asOf) : CM.nsToMs(clock.results.horizon_ns);
  const m = mode(asOf, account.results);
  const t = encodeURIComponent(ticker);
  const day = CM.etDay(refMs);
  const from = CM.etDay(refMs - (span === "day" ? 30 : span === "hour" ? 5 : 1) * 86_400_000);
  const refNs = String(BigInt(refMs) * 1_000_000n);

  const [ref, snap, bars] = await Promise.all([
    CM.api(`/v1/options/contracts/${t}/`, { as_of: day }),
    CM.api(`/v1/options/snapshot/${t}/`, { as_of: asOf }),
    CM.apiAll(`/v1/options/aggs/${t}/${mult}/${span}/${from}/${day}/`, { limit: 5000 }, 2),
  ]);
  const d = ref.results;
  CM.dl(CM.$("#details"), [["ticker", d.ticker], ["underlying", d.underlying_ticker], ["type", d.contract_type], ["strike", CM.num(d.strike_price)], ["expiration", d.expiration_date], ["shares per contract", CM.int(d.shares_per_contract)], ["style", d.exercise_style]]);
  const s = snap.results, q = s.last_quote, g = s.greeks || {};
  const qMs = q ? CM.nsToMs(q.last_updated) : null;
  const qKind = CM.quoteKind({ bid: q?.bid, ask: q?.ask, tsMs: qMs, refMs, staleMs, mode: m });
  const session = clockLabel(refMs, clock.results, asOf);
  CM.dl(CM.$("#snapshot"), [
    ["as of", CM.timeEl(refMs)], ["session", session],
    ["last quote", q ? `${CM.num(q.bid)} × ${CM.num(q.ask)}` : "—"], ["quote", CM.labelEl(qKind, null, qMs ? `quote age ${CM.age(refMs - qMs)}` : "")],
    ["quote age", qMs ? CM.age(refMs - qMs) : "—"], ["last trade", s.last_trade ? CM.num(s.last_trade.price) : "—"],
    ["IV", s.implied_volatility != null ? CM.pct(s.implied_volatility, 2) : "—"],
    ["delta / gamma", `${CM.num(g.delta, 4)} / ${CM.num(g.gamma, 4)}`], ["theta / vega", `${CM.num(g.theta, 4)} / ${CM.num(g.vega, 4)}`],
    ["open interest", CM.int(s.open_interest)], ["underlying", s.underlying_asset ? CM.num(s.underlying_asset.price) : "—"],
  ]);

  // Candles: only bars that closed at or before the instant (a bar is a signal once complete).
  const barMs = Number(mult) * SPAN_MS[span];
  const done = bars.filter((b) => b.t + barMs <= refMs || span === "day" && b.t <= refMs);
  const x = done.map((b) => CM.etAxis(b.t));
  Plotly.react("candles", [
    { type: "candlestick", x, open: done.map((b) => b.o), high: done.map((b) => b.h), low: done.map((b) => b.l), close: done.map((b) => b.c), name: "price", xaxis: "x", yaxis: "y" },
    { type: "bar", x, y: done.map((b) => b.v), name: "volume", marker: { color: CM.css("--muted") }, xaxis: "x", yaxis: "y2" },
  ], CM.plotLayout({
    grid: { rows: 2, columns: 1, roworder: "top to bottom" }, yaxis: { domain: [0.3, 1], gridcolor: CM.css("--line") },
    yaxis2: { domain: [0, 0.22], gridcolor: CM.css("--line") }, xaxis: { rangeslider: { visible: false }, gridcolor: CM.css("--line"), anchor: "y2", title: { text: "time (ET)" } },
  }), CM.plotConfig);
  const btbody = CM.$("#bars tbody");
  btbody.replaceChildren();
  for (const b of done.slice(-12).reverse()) {
    const tr = document.createElement("tr");
    tr.append(CM.td(CM.timeEl(b.t)), CM.td(CM.timeEl(b.t + barMs)), CM.td(CM.num(b.o), "num"), CM.td(CM.num(b.h), "num"), CM.td(CM.num(b.l), "num"), CM.td(CM.num(b.c), "num"), CM.td(CM.int(b.v), "num"),
      CM.td(CM.labelEl("bar", null, "completed aggregate interval: usable as a signal after its end")));
    btbody.append(tr);
  }

  // Tapes: newest first, up to the instant.
  const qbody = CM.$("#quotes tbody"), tbody = CM.$("#trades tbody");
  let quotes = [];
  try {
    quotes = (await CM.api(`/v1/options/quotes/${t}/`, { "timestamp.lte": refNs, order: "desc", limit: 100 })).results || [];
    qbody.replaceChildren();
    quotes.forEach((r, i) => {
      const ms = CM.nsToMs(r.sip_timestamp);
      const kind = i === 0 ? CM.quoteKind({ bid: r.bid_price, ask: r.ask_price, tsMs: ms, refMs, staleMs, mode: m })
        : CM.quoteKind({ bid: r.bid_price, ask: r.ask_price, tsMs: ms, refMs: ms, staleMs, mode: "historical" });
      const tr = document.createElement("tr");
      tr.append(CM.td(CM.timeEl(ms, true)), CM.td(CM.num(r.bid_price), "num"), CM.td(CM.num(r.ask_price), "num"), CM.td(CM.int(r.bid_size), "num"), CM.td(CM.int(r.ask_size), "num"), CM.td(CM.age(refMs - ms), "num"),
        CM.td(CM.labelEl(kind, null, i === 0 ? "the quote in force at the chosen instant" : "superseded by a later quote")));
      qbody.append(tr);
    });
    if (!quotes.length) qbody.replaceChildren(emptyRow(7, CM.labelEl("none", "No usable quote", "no quote before this instant")));
  } catch (err) {
    if (!(err instanceof CM.ApiFailure) || err.status !== 403) throw err;
    qbody.replaceChildren(emptyRow(7, `Quotes are not available with this key: ${err.message}`));
  }
  const trades = (await CM.api(`/v1/options/trades/${t}/`, { "timestamp.lte": refNs, order: "desc", limit: 100 })).results || [];
  tbody.replaceChildren();
  const qAsc = quotes.map((r) => CM.nsToMs(r.sip_timestamp)).reverse();
  for (const r of trades) {
    const ms = CM.nsToMs(r.sip_timestamp);
    let prior = null;
    for (const qt of qAsc) { if (qt <= ms) prior = qt; else break; }
    const inWindow = qAsc.length && ms >= qAsc[0];
    const tr = document.createElement("tr");
    tr.append(CM.td(CM.timeEl(ms, true)), CM.td(CM.num(r.price), "num"), CM.td(CM.int(r.size), "num"), CM.td(inWindow && prior !== null ? CM.age(ms - prior) : "—", "num"),
      CM.td(sessionOf(ms)), CM.td(inWindow && prior !== null && ms - prior > staleMs ? CM.labelEl("stale", null, "the quote in force at this print was older than the threshold") : CM.labelEl(m === "historical" ? "historical" : m, m === "historical" ? "Historical trade" : m === "live" ? "Live trade" : "Delayed trade")));
    tbody.append(tr);
  }
  if (!trades.length) tbody.replaceChildren(emptyRow(6, "No trades before this instant."));
  history.replaceState(null, "", `?ticker=${t}&as_of=${encodeURIComponent(asOfLocal)}`);
}

function emptyRow(n, content) { const tr = document.createElement("tr"); const c = CM.td(content); c.colSpan = n; tr.append(c); return tr; }

/** Options trade in the regular session only: the ET wall time decides. */
function sessionOf(ms) {
  const hm = CM.etText(ms).slice(11, 16);
  return hm >= "09:30" && hm < "16:00" ? "regular" : "closed";
}

/** The options session label at the instant viewed (the server's calendar decides, half days included). */
function clockLabel(refMs, clock, asOf) {
  const l = asOf ? clock.at.options_session_label : clock.options_session_label;
  return ["regular", "half_day"].includes(l) ? CM.labelEl(asOf ? "historical" : "live", l) : CM.labelEl("closed", `${l} · Session closed`);
}

CM.start(async () => {
  CM.$("#ticker").value = CM.query("ticker") || "";
  CM.$("#as-of").value = CM.query("as_of") || "";
  CM.$("#contract-form").addEventListener("submit", (e) => { e.preventDefault(); CM.guard(render); });
  if (CM.$("#ticker").value) await render();
});
