"""A bounded soak of a real server process over loopback: keep-alive HTTP clients on a realistic mix of
routes of both dialects, and WebSocket subscribers on a replayed session, for a few minutes.

It passes with no error (every answer 200, no WebSocket closed early, no traceback in the server log) and
flat memory (the server's resident set after warm-up grows by less than ``--max-growth-mb``). It prints
p50/p99 latencies per route and, with ``--record``, writes them to bench/RESULTS.md.

    python scripts/soak.py                      # 180 s, 32 HTTP clients, 100 WebSocket subscribers
    python scripts/soak.py --duration 600 --record
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Soak (issue 15)"


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    ws_events: Counter = field(default_factory=Counter)
    ws_frames: int = 0
    ws_closed_early: int = 0
    rss_kb: list[tuple[float, int]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_data(work: Path, market: Path | None) -> Path:
    """A data directory over the given market's lake, or over a freshly built test-profile market."""
    data_dir = work / "data"
    data_dir.mkdir()
    if market is None:
        from cutemarkets_server.sim.build import build_market

        market = work / "market"
        build_market(market, seed=7, end=dt.date(2025, 12, 2), profile="test")
    (data_dir / "lake").symlink_to((market / "lake").resolve(), target_is_directory=True)
    return data_dir


def sessions(data_dir: Path) -> list[dt.date]:
    from cutemarkets_server.store.lake import Lake

    snap = Lake(data_dir / "lake").snapshot()
    return sorted(set(snap.days("stock_trades")) & set(snap.days("option_trades")))


def route_mix(contracts: list[str], day: dt.date, prev: dt.date) -> list[tuple[int, str, str]]:
    """(weight, name, URL template with ``{c}`` for an option contract): a backtest-like mix."""
    d, p, start = day.isoformat(), prev.isoformat(), (prev - dt.timedelta(days=30)).isoformat()
    return [
        (10, "v1 chain", "/v1/options/chain/SPY/?limit=50"),
        (8, "v1 contract snapshot", "/v1/options/snapshot/SPY/{c}/"),
        (6, "v1 contracts", "/v1/options/contracts/?underlying_ticker=QQQ&limit=100"),
        (10, "v1 option trades", f"/v1/options/trades/{{c}}/?timestamp={p}&limit=200"),
        (10, "v1 option quotes", f"/v1/options/quotes/{{c}}/?timestamp={p}&limit=200"),
        (8, "v1 option aggs", f"/v1/options/aggs/{{c}}/1/minute/{p}/{p}/"),
        (3, "v1 option indicator", "/v1/options/indicators/sma/{c}/?timespan=hour&window=5"),
        (6, "v1 stock snapshot", "/v1/stocks/snapshot/AAPL/"),
        (6, "v1 stock trades", f"/v1/stocks/trades/SPY/?timestamp={p}&limit=200"),
        (4, "v1 stock quotes", f"/v1/stocks/quotes/NVDA/?timestamp={p}&limit=200"),
        (6, "v1 stock aggs", f"/v1/stocks/aggs/AAPL/5/minute/{p}/{d}/"),
        (3, "v1 grouped", f"/v1/stocks/aggs/grouped/{p}/"),
        (3, "v1 stock indicator", "/v1/stocks/indicators/rsi/QQQ/?timespan=day&window=14"),
        (3, "v1 expirations", "/v1/tickers/expirations/SPY/"),
        (2, "v1 search", "/v1/tickers/search/?query=SP"),
        (6, "v2 aggs range", f"/v2/aggs/ticker/SPY/range/1/day/{start}/{p}"),
        (4, "v3 option snapshot", "/v3/snapshot/options/QQQ?limit=50"),
        (4, "v3 trades", f"/v3/trades/{{c}}?timestamp={p}&limit=100"),
        (2, "v3 contracts", "/v3/reference/options/contracts?underlying_ticker=SPY&limit=100"),
        (1, "status", "/v1/status/"),
    ]


async def http_client(
    base: str,
    key: str,
    mix: list[tuple[int, str, str]],
    contracts: list[str],
    seed: int,
    deadline: float,
    think_s: float,
    tally: Tally,
) -> None:
    rng = random.Random(seed)
    weights = [w for w, _, _ in mix]
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:
        while time.monotonic() < deadline:
            _, name, template = rng.choices(mix, weights)[0]
            url = template.replace("{c}", rng.choice(contracts))
            t0 = time.perf_counter()
            try:
                r = await client.get(url)
            except httpx.HTTPError as exc:
                tally.errors.append(f"{name}: {type(exc).__name__} {exc}")
                continue
            tally.latencies_ms[name].append((time.perf_counter() - t0) * 1e3)
            if r.status_code != 200:
                tally.errors.append(f"{name}: HTTP {r.status_code} {url} {r.text[:200]}")
            if think_s:
                await asyncio.sleep(think_s * (0.5 + rng.random()))


async def subscriber(ws_base: str, key: str, market: str, topics: str, deadline: float, tally: Tally) -> None:
    try:
        async with websockets.connect(
            f"{ws_base}/v1/ws/{market}/", additional_headers={"Authorization": f"Bearer {key}"}, max_size=None
        ) as ws:
            await ws.send(json.dumps({"action": "subscribe", "params": topics}))
            while (left := deadline - time.monotonic()) > 0:
                try:
                    frame = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                tally.ws_frames += 1
                for ev in json.loads(frame):
                    kind = ev.get("ev")
                    tally.ws_events[kind if kind != "status" else f"status:{ev.get('status')}"] += 1
                    if kind == "status" and ev.get("status") in ("error", "slow_consumer", "auth_failed"):
                        tally.errors.append(f"ws {market}: status {ev}")
    except websockets.ConnectionClosed as exc:
        tally.ws_closed_early += 1
        tally.errors.append(f"ws {market}: closed early {exc}")
    except OSError as exc:
        tally.errors.append(f"ws {market}: {type(exc).__name__} {exc}")


async def memory_sampler(pid: int, deadline: float, tally: Tally, every_s: float = 2.0) -> None:
    started = time.monotonic()
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    tally.rss_kb.append((time.monotonic() - started, int(line.split()[1])))
        await asyncio.sleep(every_s)


async def soak(
    base: str,
    pid: int,
    http_key: str,
    ws_keys: list[str],
    contracts: list[str],
    day: dt.date,
    prev: dt.date,
    args: argparse.Namespace,
) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + args.duration
    ws_base = base.replace("http://", "ws://")
    mix = route_mix(contracts, day, prev)
    topics = {"stocks": "T.*,Q.*,AM.*", "options": "T.*,AM.*"}
    tasks = [asyncio.create_task(memory_sampler(pid, deadline, tally))]
    for i, key in enumerate(ws_keys):
        market = "stocks" if i % 2 == 0 else "options"
        tasks.append(asyncio.create_task(subscriber(ws_base, key, market, topics[market], deadline, tally)))
    for i in range(args.clients):
        tasks.append(
            asyncio.create_task(http_client(base, http_key, mix, contracts, i, deadline, args.think_ms / 1e3, tally))
        )
    await asyncio.gather(*tasks)
    return tally


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def memory_growth_mb(rss: list[tuple[float, int]], duration: float) -> tuple[float, float, float]:
    """(MB after warm-up, MB at the end, growth MB): medians of the first and last third after warm-up."""
    settled = [kb for t, kb in rss if t >= duration * 0.25] or [kb for _, kb in rss]
    third = max(1, len(settled) // 3)
    first, last = statistics.median(settled[:third]) / 1024, statistics.median(settled[-third:]) / 1024
    return first, last, last - first


def report(tally: Tally, args: argparse.Namespace, log_errors: list[str], day: dt.date) -> tuple[str, bool]:
    every = [x for xs in tally.latencies_ms.values() for x in xs]
    total = len(every)
    first, last, growth = memory_growth_mb(tally.rss_kb, args.duration)
    errors = len(tally.errors) + len(log_errors)
    ok = errors == 0 and growth <= args.max_growth_mb and total > 0
    lines = [
        SECTION,
        "",
        f"Command: `make soak` (`python scripts/soak.py --duration {args.duration:.0f} --clients {args.clients} "
        f"--subscribers {args.subscribers} --think-ms {args.think_ms:g} --speed {args.speed}`), "
        f"{dt.date.today().isoformat()}, one `cutemarkets serve` process replaying {day} of the test-profile "
        "market, client and server on the same 2-core machine (loopback). Latency is measured by the client "
        "(its own event loop included); each HTTP client keeps one connection alive and waits "
        f"{args.think_ms:g} ms (±50 %) between requests.",
        "",
        f"**{'PASS' if ok else 'FAIL'}**: {total:,} requests ({total / args.duration:,.0f}/s), **{errors} errors**, "
        f"{args.subscribers} WebSocket subscribers received {tally.ws_frames:,} frames "
        f"({sum(v for k, v in tally.ws_events.items() if not k.startswith('status')):,} events), "
        f"{tally.ws_closed_early} closed early; server memory {first:.0f} MB after warm-up → {last:.0f} MB at the "
        f"end ({growth:+.1f} MB, limit {args.max_growth_mb:g} MB). Machine load average at the end: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "| route | requests | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
        f"| **all** | {total:,} | {percentile(every, 0.5):.1f} | {percentile(every, 0.99):.1f} |",
    ]
    for name, xs in sorted(tally.latencies_ms.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"| {name} | {len(xs):,} | {percentile(xs, 0.5):.1f} | {percentile(xs, 0.99):.1f} |")
    return "\n".join(lines) + "\n", ok


def record(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        nxt = rest.find("\n## ")
        text = head + section + (rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180)")
    parser.add_argument("--clients", type=int, default=32, help="keep-alive HTTP clients (default 32)")
    parser.add_argument("--subscribers", type=int, default=100, help="WebSocket subscribers (default 100)")
    parser.add_argument("--think-ms", type=float, default=50.0, help="mean pause between a client's requests")
    parser.add_argument("--speed", default="30", help="replay speed of the streamed session (default 30)")
    parser.add_argument("--market", type=Path, default=None, help="a data directory whose lake to serve")
    parser.add_argument("--max-growth-mb", type=float, default=32.0, help="allowed memory growth after warm-up")
    parser.add_argument("--record", action="store_true", help="write the results to bench/RESULTS.md")
    args = parser.parse_args()

    from cutemarkets_server.store.keys import KeyStore

    with tempfile.TemporaryDirectory(prefix="cutemarkets-soak-") as tmp:
        work = Path(tmp)
        data_dir = prepare_data(work, args.market)
        days = sessions(data_dir)
        day, prev = days[-1], days[-2]
        keys = KeyStore(data_dir / "keys.sqlite")
        http_key = keys.create("soak-http", "expert", ("options", "stocks"))[0]
        ws_keys = [keys.create(f"soak-ws-{i}", "expert", ("options", "stocks"))[0] for i in range(args.subscribers)]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = work / "server.log"
        cli = Path(sys.executable).parent / "cutemarkets"
        command = [
            str(cli),
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--replay",
            day.isoformat(),
            "--speed",
            args.speed,
            "--start",
            "09:30",
        ]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "CUTEMARKETS_SECRET": "soak"}
            )
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    print(log_path.read_text()[-3000:])
                    raise SystemExit("the server did not start")
                try:
                    if httpx.get(base + "/v1/status/", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            auth = {"Authorization": f"Bearer {http_key}"}
            params = {
                "underlying_ticker": "SPY",
                "limit": 40,
                "as_of": day.isoformat(),
                "expiration_date.gte": (day + dt.timedelta(days=7)).isoformat(),
            }
            listed = httpx.get(base + "/v1/options/contracts/", params=params, headers=auth)
            contracts = [c["ticker"] for c in listed.json()["results"]]
            print(
                f"soak: {args.duration:.0f} s, {args.clients} HTTP clients, {args.subscribers} subscribers, "
                f"replaying {day} at {args.speed}x, server pid {proc.pid}",
                flush=True,
            )
            tally = asyncio.run(soak(base, proc.pid, http_key, ws_keys, contracts, day, prev, args))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        log_errors = [
            line
            for line in log_path.read_text(errors="replace").splitlines()
            if "Traceback" in line or " ERROR " in line
        ]
    section, ok = report(tally, args, log_errors, day)
    print(section)
    for line in (tally.errors + log_errors)[:20]:
        print("error:", line)
    if args.record:
        record(section)
        print(f"recorded in {RESULTS.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
