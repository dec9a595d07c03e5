/* Shared by every console page: the key (kept for the browser session), API calls with a Bearer header,
   ET/UTC time cells, the freshness labels of the timestamps guide, and chart colours from the theme. */
"use strict";
const CM = (() => {
  const KEY = "cutemarkets.key";
  const $ = (sel, root = document) => root.querySelector(sel);
  const NS_PER_MS = 1_000_000n;

  class ApiFailure extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  function key() { return sessionStorage.getItem(KEY); }

  async function api(path, params = {}, { raw = false } = {}) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
    const res = await fetch(url, { headers: { Authorization: `Bearer ${key()}`, Accept: "application/json" } });
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) {
      const err = (body && body.error) || {};
      throw new ApiFailure(res.status, err.code || String(res.status), err.message || res.statusText);
    }
    return raw ? { body, headers: res.headers } : body;
  }

  /** Follows next_url up to `pages` pages and returns the concatenated results. */
  async function apiAll(path, params = {}, pages = 4) {
    let body = await api(path, params);
    let rows = body.results || [];
    while (body.next_url && --pages > 0) {
      const next = new URL(body.next_url);
      body = await api(next.pathname + next.search);
      rows = rows.concat(body.results || []);
    }
    return rows;
  }

  // ---- time: integer UTC ns inside, ET on screen, UTC on hover -------------------------------------
  const etFmt = new Intl.DateTimeFormat("en-CA", {
    timeZone: "America/New_York", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  function parts(date) {
    const out = {};
    for (const p of etFmt.formatToParts(date)) out[p.type] = p.value;
    return out;
  }
  function nsToMs(ns) { return typeof ns === "bigint" ? Number(ns / NS_PER_MS) : Math.floor(Number(ns) / 1e6); }
  function etText(ms, withMs = false) {
    const d = new Date(ms); const p = parts(d);
    const frac = withMs ? "." + String(d.getUTCMilliseconds()).padStart(3, "0") : "";
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}${frac} ET`;
  }
  function utcText(ms) { return new Date(ms).toISOString(); }
  /** A <time> element: ET text, UTC in the title (hover) and the datetime attribute. */
  function timeEl(ms, withMs = false) {
    const t = document.createElement("time");
    t.dateTime = utcText(ms); t.title = "UTC " + utcText(ms); t.textContent = etText(ms, withMs);
    return t;
  }
  /** "YYYY-MM-DDTHH:MM[:SS]" read as America/New_York → RFC 3339 with the ET offset of that instant. */
  function etLocalToRfc3339(local) {
    if (!local) return "";
    const base = local.length === 16 ? local + ":00" : local;
    const guess = Date.parse(base + "Z");
    let offsetMin = etOffsetMinutes(guess);
    offsetMin = etOffsetMinutes(guess - offsetMin * 60000);
    const sign = offsetMin <= 0 ? "-" : "+";
    const abs = Math.abs(offsetMin);
    return `${base}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  }
  function etOffsetMinutes(ms) {
    const p = parts(new Date(ms));
    const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
    return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
  }
  function etLocalToMs(local) { return Date.parse(etLocalToRfc3339(local)); }
  function msToEtLocal(ms) { const p = parts(new Date(ms)); return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`; }
  /** An ET wall-clock string for chart axes (the chart library has no time zones; the axes say ET). */
  function etAxis(ms) { const p = parts(new Date(ms)); return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`; }
  function etDay(ms) { const p = parts(new Date(ms)); return `${p.year}-${p.month}-${p.day}`; }
  function age(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
    const s = ms / 1000;
    if (Math.abs(s) < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    if (Math.abs(s) < 3600) return `${(s / 60).toFixed(1)} min`;
    if (Math.abs(s) < 86400 * 2) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} d`;
  }

  // ---- the UI labels of the timestamps guide ----------------------------------------------------
  const LABELS = {
    live: "Live quote", delayed: "Delayed quote", stale: "Stale quote", historical: "Historical quote",
    backfilled: "Backfilled quote", none: "No usable quote", bar: "Bar signal", closed: "Session closed",
  };
  function labelEl(kind, text, title) {
    const s = document.createElement("span");
    s.className = "label " + kind; s.textContent = text || LABELS[kind] || kind;
    if (title) s.title = title;
    return s;
  }
  /** The freshness label of a quote seen at `refMs` under a viewing `mode` (live | delayed | historical). */
  function quoteKind({ bid, ask, tsMs, refMs, staleMs, mode }) {
    if (!(bid > 0) || !(ask > 0) || ask < bid || tsMs === undefined || tsMs === null) return "none";
    if (refMs - tsMs > staleMs) return "stale";
    return mode;
  }

  // ---- numbers and small DOM helpers ----------------------------------------------------------
  function num(v, digits = 2) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    return Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function int(v) { return v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"); }
  function pct(v, digits = 1) { return v === null || v === undefined ? "—" : (Number(v) * 100).toFixed(digits) + "%"; }
  function bytes(n) {
    const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0; let v = Number(n);
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
  }
  function td(content, cls) {
    const c = document.createElement("td");
    if (cls) c.className = cls;
    if (content instanceof Node) c.append(content); else c.textContent = content;
    return c;
  }
  function dl(el, pairs) {
    el.replaceChildren();
    for (const [k, v] of pairs) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd");
      if (v instanceof Node) dd.append(v); else dd.textContent = v;
      el.append(dt, dd);
    }
  }

  // ---- chart theme ----------------------------------------------------------------------------
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function plotLayout(extra = {}) {
    const fg = css("--fg"), line = css("--line");
    return Object.assign({
      paper_bgcolor: css("--bg"), plot_bgcolor: css("--bg"), font: { color: fg, size: 12 },
      margin: { l: 56, r: 20, t: 16, b: 40 }, showlegend: true, legend: { orientation: "h", y: 1.08 },
      xaxis: { gridcolor: line, zerolinecolor: line }, yaxis: { gridcolor: line, zerolinecolor: line },
    }, extra);
  }
  const plotConfig = { responsive: true, displaylogo: false };
  /** The chart library, loaded on first use: pages that paint tables first load it after their data. */
  let plotlyLoading = null;
  function plotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    plotlyLoading ??= new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = document.body.dataset.plotly;
      tag.addEventListener("load", () => resolve(window.Plotly));
      tag.addEventListener("error", () => reject(new Error("the chart library did not load")));
      document.head.append(tag);
    });
    return plotlyLoading;
  }

  // ---- errors and the sign-in box ----------------------------------------------------------------
  function showError(err) {
    const box = $("#page-error");
    let text = err.message || String(err);
    if (err instanceof ApiFailure) {
      if (err.status === 401) text = `Your API key was refused: ${err.message} Sign in again with a valid key.`;
      else if (err.status === 403) text = `Not available with this key: ${err.message}`;
      else if (err.status === 429) text = `Rate limit reached: ${err.message}`;
      else text = `The API answered ${err.status} (${err.code}): ${err.message}`;
    }
    box.textContent = text; box.hidden = false;
  }
  function clearError() { const box = $("#page-error"); box.hidden = true; box.textContent = ""; }
  /** Runs `fn`, showing an API failure as a clear message on the page instead of a broken page. */
  async function guard(fn) {
    clearError();
    try { return await fn(); } catch (err) { showError(err); if (!(err instanceof ApiFailure)) console.warn(err); return null; }
  }

  async function signIn(candidate) {
    const res = await fetch("/v1/account/", { headers: { Authorization: `Bearer ${candidate}` } });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new ApiFailure(res.status, body?.error?.code || "error", body?.error?.message || res.statusText);
    return body.results;
  }

  function start(init) {
    const form = $("#signin"), err = $("#signin-error"), who = $("#signin-who"), out = $("#signout");
    const input = $("#signin-key");
    function signedIn(account) {
      who.textContent = `${account.name} · ${account.plan} · ${account.products.join(", ")}`;
      who.hidden = false; out.hidden = false; input.hidden = true; $("#signin-submit").hidden = true;
      document.querySelector('label[for="signin-key"]').hidden = true;
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.hidden = true;
      const candidate = input.value.trim();
      if (!candidate) { err.textContent = "Paste an API key first."; err.hidden = false; return; }
      try {
        await signIn(candidate);
        sessionStorage.setItem(KEY, candidate);
        location.reload();
      } catch (e2) {
        err.textContent = `Sign-in failed: ${e2.message}`; err.hidden = false; input.focus();
      }
    });
    out.addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });
    document.addEventListener("DOMContentLoaded", async () => {
      if (!key()) { $("#needs-key").hidden = false; $("#content").hidden = true; input.focus(); return; }
      // The page's own requests start at once; if the key is refused, the page is hidden behind the error.
      const who = signIn(key());
      const work = guard(init);
      try { signedIn(await who); } catch (e) {
        err.textContent = `Sign-in failed: ${e.message}`; err.hidden = false;
        if (e instanceof ApiFailure && e.status !== 401) {
          err.textContent = `Could not check the key (${e.status}): ${e.message}`; // e.g. a rate limit: stay signed in
        } else {
          sessionStorage.removeItem(KEY);
          $("#needs-key").hidden = false; $("#content").hidden = true; return;
        }
      }
      await work;
      document.body.dataset.ready = "1";
    });
  }

  function query(name) { return new URLSearchParams(location.search).get(name); }

  return {
    $, api, apiAll, ApiFailure, key, start, guard, showError, clearError, query,
    nsToMs, etText, etAxis, utcText, timeEl, etLocalToRfc3339, etLocalToMs, msToEtLocal, etDay, age,
    LABELS, labelEl, quoteKind, num, int, pct, bytes, td, dl, css, plotLayout, plotConfig, plotly,
  };
})();
