/* Stock: one day's candles with pre-market and after-hours shaded, SMA/EMA/RSI/MACD, snapshot and movers. */
"use strict";

async function defaultDay() {
  const ds = await CM.api("/v1/datasets/");
  const bars = ds.results.find((d) => d.dataset === "stock_minute_aggs");
  return bars ? bars.last_day : CM.etDay(Date.now());
}

function sessionShapes(bars, barMs) {
  const fills = { premarket: CM.css("--pre"), after_hours: CM.css("--post") };
  const shapes = [];
  let run = null;
  for (const b of bars) {
    const color = fills[b.session];
    if (run && run.session === b.session) { run.x1 = b.t + barMs; continue; }
    if (run) shapes.push(run);
    run = color ? { session: b.session, type: "rect", xref: "x", yref: "paper", x0: b.t, x1: b.t + barMs, y0: 0, y1: 1, fillcolor: color, line: { width: 0 }, layer: "below" } : null;
  }
  if (run) shapes.push(run);
  return shapes.map((s) => ({ ...s, x0: CM.etAxis(s.x0), x1: CM.etAxis(s.x1), session: undefined }));
}

async function indicator(name, ticker, day, params) {
  const body = await CM.api(`/v1/stocks/indicators/${name}/${encodeURIComponent(ticker)}/`, { timespan: "minute", "timestamp.gte": day, "timestamp.lte": day, limit: 5000, order: "asc", ...params });
  return body.results.values || [];
}

async function render() {
  const ticker = CM.$("#ticker").value.trim().toUpperCase();
  const day = CM.$("#day").value;
  const mult = Number(CM.$("#span").value);
  const barMs = mult * 60_000;
  const t = encodeURIComponent(ticker);
  const want = { sma: CM.$("#ov-sma").checked, ema: CM.$("#ov-ema").checked, rsi: CM.$("#ov-rsi").checked, macd: CM.$("#ov-macd").checked };
  const [bars, sma, ema, rsi, macd] = await Promise.all([
    CM.apiAll(`/v1/stocks/aggs/${t}/${mult}/minute/${day}/${day}/`, { limit: 5000 }, 2),
    want.sma ? indicator("sma", ticker, day, { window: 20 }) : [],
    want.ema ? indicator("ema", ticker, day, { window: 20 }) : [],
    want.rsi ? indicator("rsi", ticker, day, { window: 14 }) : [],
    want.macd ? indicator("macd", ticker, day, {}) : [],
  ]);
  const x = bars.map((b) => CM.etAxis(b.t));
  const line = (vals, name, color, yaxis = "y") => ({ type: "scatter", mode: "lines", x: vals.map((v) => CM.etAxis(v.timestamp)), y: vals.map((v) => v.value), name, line: { color, width: 1.5 }, yaxis });
  const traces = [
    { type: "candlestick", x, open: bars.map((b) => b.o), high: bars.map((b) => b.h), low: bars.map((b) => b.l), close: bars.map((b) => b.c), name: ticker, yaxis: "y" },
    { type: "bar", x, y: bars.map((b) => b.v), name: "volume", marker: { color: CM.css("--muted") }, yaxis: "y2" },
  ];
  if (want.sma) traces.push(line(sma, "SMA 20 (1 min)", CM.css("--info")));
  if (want.ema) traces.push(line(ema, "EMA 20 (1 min)", CM.css("--warn")));
  if (want.rsi) traces.push(line(rsi, "RSI 14", CM.css("--accent"), "y3"));
  if (want.macd) {
    traces.push(line(macd, "MACD", CM.css("--good"), "y4"));
    traces.push({ ...line(macd.map((v) => ({ timestamp: v.timestamp, value: v.signal })), "signal", CM.css("--bad"), "y4") });
  }
  const grid = CM.css("--line");
  const lower = (want.rsi ? 1 : 0) + (want.macd ? 1 : 0);
  const top = lower === 2 ? 0.48 : lower === 1 ? 0.3 : 0.18;
  const layout = CM.plotLayout({
    xaxis: { rangeslider: { visible: false }, gridcolor: grid, type: "date", anchor: want.macd ? "y4" : want.rsi ? "y3" : "y2", title: { text: "time (ET)" } },
    yaxis: { domain: [top + 0.12, 1], gridcolor: grid, title: { text: "price" } },
    yaxis2: { domain: [top, top + 0.1], gridcolor: grid, title: { text: "vol" } },
    yaxis3: { domain: want.macd ? [0.2, 0.36] : [0, 0.16], gridcolor: grid, title: { text: "RSI" }, visible: want.rsi },
    yaxis4: { domain: [0, 0.16], gridcolor: grid, title: { text: "MACD" }, visible: want.macd },
    shapes: sessionShapes(bars, barMs),
  });
  Plotly.react("candles", traces, layout, CM.plotConfig);
  CM.$("#candles").dataset.bars = String(bars.length);

  const [snap, gainers, losers] = await Promise.all([
    CM.api(`/v1/stocks/snapshot/${t}/`),
    CM.api("/v1/stocks/snapshot/movers/gainers/"),
    CM.api("/v1/stocks/snapshot/movers/losers/"),
  ]);
  const s = snap.results;
  const lt = s.lastTrade, lq = s.lastQuote;
  CM.dl(CM.$("#snapshot"), [
    ["ticker", s.ticker], ["change", `${CM.num(s.todaysChange)} (${CM.num(s.todaysChangePerc)}%)`],
    ["last trade", lt ? CM.num(lt.p ?? lt.price) : "—"], ["at", lt ? CM.timeEl(CM.nsToMs(lt.t)) : "—"],
    ["last quote", lq ? `${CM.num(lq.p ?? lq.bid_price)} × ${CM.num(lq.P ?? lq.ask_price)}` : "—"],
    ["minute bar", s.min ? `${CM.num(s.min.c)} · ${s.min.session ?? ""}` : "—"],
    ["previous close", s.prevDay ? CM.num(s.prevDay.c) : "—"],
  ]);
  for (const [id, body] of [["#gainers", gainers], ["#losers", losers]]) {
    const list = CM.$(id);
    const rows = body.tickers || [];
    list.replaceChildren(...rows.slice(0, 10).map((r) => { const li = document.createElement("li"); li.textContent = `${r.ticker} ${CM.num(r.todaysChangePerc)}%`; return li; }));
    if (!rows.length) { const li = document.createElement("li"); li.textContent = "none right now (movers need a session in progress)"; list.replaceChildren(li); }
  }
  history.replaceState(null, "", `?ticker=${t}&day=${day}`);
}

CM.start(async () => {
  CM.$("#ticker").value = CM.query("ticker") || "SPY";
  CM.$("#day").value = CM.query("day") || (await defaultDay());
  CM.$("#stock-form").addEventListener("submit", (e) => { e.preventDefault(); CM.guard(render); });
  await render();
});
