/* Live tape: the WebSocket stream of chosen topics, with connection state, stream clock, last event age,
   last frame (heartbeat) and reconnects; a row whose newest event is older than the threshold is stale. */
"use strict";
const rows = new Map();
let ws = null, wanted = false, reconnects = 0, events = 0, lastFrameAt = null, lastEventMs = null;
let clock = null; // { nowMs, at (performance.now()), speed } from /v1/clock/ when connecting
let backoff = 1000, timer = null;

function streamNowMs() {
  if (!clock) return null;
  if (clock.speed === null) return Math.max(clock.nowMs, lastEventMs ?? 0); // unpaced replay: as far as events went
  return clock.nowMs + (performance.now() - clock.at) * clock.speed;
}

async function syncClock() {
  const c = (await CM.api("/v1/clock/")).results;
  const speed = c.mode === "replay" ? (c.replay?.speed ?? null) : 1;
  clock = { nowMs: CM.nsToMs(c.now_ns), at: performance.now(), speed, mode: c.mode };
}

function setState(text, cls) { const e = CM.$("#conn-state"); e.textContent = text; e.className = cls || ""; }

function status(msg) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toISOString().slice(11, 23)} ${msg.status}: ${msg.message ?? ""}`;
  CM.$("#statuses").prepend(li);
  if (msg.status === "auth_success") setState(`connected · ${clock?.mode ?? ""} clock`, "ok");
  if (msg.status === "auth_failed" || msg.status === "max_connections") setState(`refused: ${msg.message}`, "bad");
}

function onEvent(ev) {
  events++;
  const ms = ev.t ?? ev.e ?? ev.s;
  if (ms !== undefined && (lastEventMs === null || ms > lastEventMs)) lastEventMs = ms;
  const id = `${ev.ev}|${ev.sym}`;
  let row = rows.get(id);
  if (!row) {
    const tr = document.createElement("tr");
    tr.dataset.ev = ev.ev; tr.dataset.sym = ev.sym;
    for (let i = 0; i < 7; i++) tr.append(document.createElement("td"));
    tr.children[2].className = tr.children[3].className = tr.children[5].className = "num";
    row = { tr, ev: null };
    rows.set(id, row);
    CM.$("#tape tbody").append(tr);
  }
  row.ev = ev; row.ms = ms;
  const c = row.tr.children;
  c[0].textContent = ev.ev; c[1].textContent = ev.sym;
  if (ev.ev === "Q") { c[2].textContent = CM.num(ev.bp); c[3].textContent = CM.num(ev.ap); }
  else if (ev.ev === "T") { c[2].textContent = CM.num(ev.p); c[3].textContent = CM.int(ev.s); }
  else { c[2].textContent = CM.num(ev.c); c[3].textContent = CM.int(ev.v); }
  c[4].replaceChildren(CM.timeEl(ms, true));
  label(row, streamNowMs(), Number(CM.$("#stale").value || 10) * 1000);
}

function label(row, now, staleMs) {
  const a = now !== null ? now - row.ms : null;
  const stale = a !== null && a > staleMs;
  row.tr.children[5].textContent = CM.age(a);
  row.tr.dataset.stale = stale ? "1" : "0";
  const cell = row.tr.children[6];
  const quote = row.ev.ev === "Q";
  const kind = stale ? "stale" : row.ev.ev.startsWith("A") ? "bar" : "live";
  const text = stale ? (quote ? CM.LABELS.stale : "Stale") : kind === "bar" ? CM.LABELS.bar : quote ? CM.LABELS.live : "Live";
  if (cell.textContent !== text) cell.replaceChildren(CM.labelEl(kind, text, `event age ${CM.age(a)}`));
}

function refresh() {
  const now = streamNowMs();
  const staleMs = Number(CM.$("#stale").value || 10) * 1000;
  CM.$("#conn-clock").replaceChildren(now ? CM.timeEl(now) : "—");
  CM.$("#conn-age").textContent = now && lastEventMs ? CM.age(now - lastEventMs) : "—";
  CM.$("#conn-beat").textContent = lastFrameAt ? `${CM.age(Date.now() - lastFrameAt)} ago` : "—";
  CM.$("#conn-reconnects").textContent = String(reconnects);
  CM.$("#conn-events").textContent = CM.int(events);
  for (const row of rows.values()) label(row, now, staleMs);
}

async function connect() {
  clearTimeout(timer);
  await syncClock();
  const market = CM.$("#market").value;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws/${market}/?api_key=${encodeURIComponent(CM.key())}`;
  setState("connecting…", "warn");
  const sock = new WebSocket(url);
  ws = sock;
  sock.onopen = () => {
    backoff = 1000;
    sock.send(JSON.stringify({ action: "subscribe", params: CM.$("#topics").value.trim() }));
  };
  sock.onmessage = (m) => {
    lastFrameAt = Date.now();
    for (const ev of JSON.parse(m.data)) { if (ev.ev === "status") status(ev); else onEvent(ev); }
  };
  sock.onclose = (e) => {
    if (ws !== sock) return;
    ws = null;
    if (!wanted) { setState(`disconnected (${e.code})`); return; }
    if ([4401, 4403].includes(e.code)) { setState(`refused (${e.code} ${e.reason})`, "bad"); wanted = false; buttons(); return; }
    setState(`connection lost (${e.code}); reconnecting in ${backoff / 1000} s`, "warn");
    timer = setTimeout(() => { reconnects++; CM.guard(connect); }, backoff);
    backoff = Math.min(backoff * 2, 15000);
  };
}

function buttons() { CM.$("#connect").disabled = wanted; CM.$("#disconnect").disabled = !wanted; }

CM.start(async () => {
  const q = (n) => CM.query(n);
  if (q("market")) CM.$("#market").value = q("market");
  if (q("topics")) CM.$("#topics").value = q("topics");
  if (q("stale")) CM.$("#stale").value = q("stale");
  CM.$("#market").addEventListener("change", () => { CM.$("#topics").value = CM.$("#market").value === "options" ? "T.*,AM.*" : "T.*,Q.*"; });
  CM.$("#live-form").addEventListener("submit", (e) => { e.preventDefault(); wanted = true; buttons(); CM.guard(connect); });
  CM.$("#disconnect").addEventListener("click", () => { wanted = false; buttons(); clearTimeout(timer); if (ws) ws.close(1000); });
  setInterval(refresh, 250);
  if (q("connect") === "1") { wanted = true; buttons(); await connect(); }
});
