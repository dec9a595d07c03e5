"""Throughput and accuracy of the BSM IV + greeks engine against ``py_vollib_vectorized``.

Both engines solve the same synthetic European options in the same run. Premiums come from an
independent pricer (``py_vollib``'s "Let's Be Rational" Black formula, current version in the project
virtualenv), so neither engine inverts its own pricing function.

``py_vollib_vectorized`` 0.1.1 only works with ``py_vollib==1.0.1`` and ``py_lets_be_rational==1.0.1``
(BACKTESTING.md §11.3) while the project's tests need the current ``py_vollib``; the competitor therefore
runs in its own virtualenv (created on first use under the benchmark data directory) as a
subprocess of this script, on the same inputs handed over as an ``.npz`` file, with the same ``numba``
and ``numpy`` versions as the project. It is single-threaded by design; ours uses all cores.

Usage::

    cutemarkets bench --suite greeks                    # what `make bench` runs
    .venv/bin/python -m cutemarkets_server.benchmarks.greeks -n 200000 --repeats 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_VENV = Path("data-bench") / "venv-py-vollib-vectorized"
COMPETITOR_PINS = ("py_vollib==1.0.1", "py_lets_be_rational==1.0.1", "py_vollib_vectorized==0.1.1")
IV_TOL = 1e-6
COND_MARGIN = 64.0
COLUMNS = ("price", "S", "K", "T", "r", "q", "call")

# name -> (K/S log-uniform range, T log-uniform range in years, sigma uniform range)
SCENARIOS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "wide": ((0.5, 2.0), (1 / (365 * 24), 3.0), (0.05, 2.0)),
    "liquid": ((0.8, 1.25), (1 / 365, 1.0), (0.1, 0.8)),
}


def make_inputs(n: int, scenario: str = "wide", seed: int = 20260401) -> dict[str, np.ndarray]:
    """Synthetic options: S = 100, r ~ U[0, 8 %], q ~ U[0, 5 %], half calls; premiums via Let's Be Rational."""
    (m_lo, m_hi), (t_lo, t_hi), (v_lo, v_hi) = SCENARIOS[scenario]
    rng = np.random.default_rng(seed)
    s = np.full(n, 100.0)
    k = s * np.exp(rng.uniform(np.log(m_lo), np.log(m_hi), n))
    t = np.exp(rng.uniform(np.log(t_lo), np.log(t_hi), n))
    sigma = rng.uniform(v_lo, v_hi, n)
    r = rng.uniform(0.0, 0.08, n)
    q = rng.uniform(0.0, 0.05, n)
    call = rng.random(n) < 0.5
    return {
        "S": s,
        "K": k,
        "T": t,
        "r": r,
        "q": q,
        "sigma": sigma,
        "call": call,
        "price": _lbr_prices(s, k, t, r, q, sigma, call),
    }


def _lbr_prices(
    s: np.ndarray, k: np.ndarray, t: np.ndarray, r: np.ndarray, q: np.ndarray, sigma: np.ndarray, call: np.ndarray
) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from py_vollib.black_scholes_merton import black_scholes_merton

    flags = np.where(call, "c", "p").tolist()
    return np.fromiter(
        (black_scholes_merton(*row) for row in zip(flags, s, k, t, r, sigma, q, strict=True)),
        dtype=np.float64,
        count=len(s),
    )


def exact_subsample(inputs: dict[str, np.ndarray], m: int, seed: int = 7) -> dict[str, np.ndarray]:
    """``m`` rows re-priced with 30-digit arithmetic (mpmath) and rounded once: correctly rounded premiums.

    Accuracy on these rows favours neither engine; accuracy on the Let's Be Rational premiums slightly favours
    ``py_vollib_vectorized``, which inverts with the same algorithm (and so the same rounding) as the pricer.
    """
    import mpmath as mp

    idx = np.sort(np.random.default_rng(seed).choice(len(inputs["S"]), size=min(m, len(inputs["S"])), replace=False))
    sub = {c: v[idx] for c, v in inputs.items()}
    with mp.workdps(30):
        prices = []
        for s, k, t, r, q, v, call in zip(*(sub[c] for c in ("S", "K", "T", "r", "q", "sigma", "call")), strict=True):
            s, k, t, r, q, v = (mp.mpf(float(a)) for a in (s, k, t, r, q, v))
            vol = v * mp.sqrt(t)
            d1 = (mp.log(s / k) + (r - q) * t) / vol + vol / 2
            sq, kr = s * mp.exp(-q * t), k * mp.exp(-r * t)
            if call:
                prices.append(float(sq * mp.ncdf(d1) - kr * mp.ncdf(d1 - vol)))
            else:
                prices.append(float(kr * mp.ncdf(vol - d1) - sq * mp.ncdf(-d1)))
    sub["price"] = np.asarray(prices)
    return sub


def well_conditioned(inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Rows whose float64 premium determines sigma to 1e-6 (vega * 1e-6 >= 64 ulps of the information)."""
    s, k, t, r, q, sigma, call, price = (inputs[c] for c in ("S", "K", "T", "r", "q", "sigma", "call", "price"))
    sq = s * np.exp(-q * t)
    kr = k * np.exp(-r * t)
    intrinsic = np.where(call, np.maximum(sq - kr, 0.0), np.maximum(kr - sq, 0.0))
    upper = np.where(call, sq, kr)
    vol = sigma * np.sqrt(t)
    d1 = (np.log(s / k) + (r - q) * t) / vol + 0.5 * vol
    vega = sq * np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi) * np.sqrt(t)
    resolution = np.spacing(np.where(intrinsic > 0.0, price + sq + kr, price))
    inside = (price > intrinsic) & (price < upper)
    return inside & (vega * IV_TOL >= COND_MARGIN * resolution)


def _accuracy(iv: np.ndarray, inputs: dict[str, np.ndarray], well: np.ndarray, prefix: str = "") -> dict[str, float]:
    hit = np.abs(iv - inputs["sigma"]) < IV_TOL
    return {
        f"{prefix}within_1e-6_all": float(hit.mean()),
        f"{prefix}within_1e-6_well_conditioned": float(hit[well].mean()),
        f"{prefix}nan_fraction": float(np.isnan(iv).mean()),
    }


def _median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_ours(inputs: dict[str, np.ndarray], repeats: int, exact: dict[str, np.ndarray]) -> dict[str, Any]:
    """Median wall times of our fused ``iv_and_greeks`` and of the separate IV and greeks calls."""
    from cutemarkets_server.market import greeks as gk

    gk.warm_up()
    args = [inputs[c] for c in COLUMNS]
    n = len(inputs["S"])
    res = gk.iv_and_greeks(*args)
    iv = res.iv
    sig_args = [inputs[c] for c in ("S", "K", "T", "r", "q")]
    out: dict[str, Any] = {"n": n, "threads": _numba_threads()}
    gk.implied_volatility(*args)
    gk.bsm_greeks(*sig_args, iv, inputs["call"])
    out["iv_and_greeks_s"] = _median_time(lambda: gk.iv_and_greeks(*args), repeats)
    out["iv_s"] = _median_time(lambda: gk.implied_volatility(*args), repeats)
    out["greeks_s"] = _median_time(lambda: gk.bsm_greeks(*sig_args, iv, inputs["call"]), repeats)
    saved = gk.PARALLEL_MIN_ROWS
    gk.PARALLEL_MIN_ROWS = 1 << 62
    try:
        out["iv_and_greeks_1thread_s"] = _median_time(lambda: gk.iv_and_greeks(*args), repeats)
    finally:
        gk.PARALLEL_MIN_ROWS = saved
    out["iv"] = iv
    out["iv_exact"] = gk.implied_volatility(*(exact[c] for c in COLUMNS))
    return out


def _numba_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def ensure_competitor_venv(venv: Path) -> Path:
    """Create the pinned py_vollib_vectorized virtualenv if it is missing; return its python."""
    python = venv / "bin" / "python"
    marker = venv / ".bench-installed"
    if python.exists() and marker.exists():
        return python
    import numba

    venv.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    pins = [*COMPETITOR_PINS, f"numba=={numba.__version__}", f"numpy=={np.__version__}"]
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *pins], check=True)
    marker.write_text("\n".join(pins) + "\n")
    return python


def time_competitor(
    inputs: dict[str, np.ndarray], repeats: int, venv: Path, exact: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Run :func:`_competitor_worker` in the pinned virtualenv on the same inputs."""
    python = ensure_competitor_venv(venv)
    with tempfile.TemporaryDirectory(prefix="bench-greeks-") as tmp:
        src = Path(tmp) / "inputs.npz"
        dst = Path(tmp) / "result.npz"
        np.savez(src, **{c: inputs[c] for c in COLUMNS}, **{f"exact_{c}": exact[c] for c in COLUMNS})
        cmd = [str(python), str(Path(__file__).resolve()), "--competitor-worker", str(src), str(dst)]
        subprocess.run([*cmd, "--repeats", str(repeats)], check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        with np.load(dst) as res:
            meta = json.loads(str(res["meta"]))
            meta["iv"] = res["iv"].copy()
            meta["iv_exact"] = res["iv_exact"].copy()
    return meta


def _competitor_worker(src: str, dst: str, repeats: int) -> None:
    """Executed inside the competitor virtualenv: time IV then all greeks, save IVs and timings."""
    import numba
    import py_vollib_vectorized as pvv

    with np.load(src) as data:
        d = {k: data[k] for k in data.files}
    flags = np.where(d["call"], "c", "p").tolist()
    iv_kw = {"q": d["q"], "model": "black_scholes_merton", "return_as": "numpy", "on_error": "ignore"}

    def iv_call(sl: slice = slice(None), pre: str = "") -> np.ndarray:
        kw = {**iv_kw, "q": d[pre + "q"][sl]}
        fl = flags[sl] if not pre else np.where(d[pre + "call"], "c", "p").tolist()
        cols = (d[pre + c][sl] for c in ("price", "S", "K", "T", "r"))
        return pvv.vectorized_implied_volatility(*cols, fl, **kw)

    def greeks_call(iv: np.ndarray, sl: slice = slice(None)) -> dict:
        return pvv.get_all_greeks(
            flags[sl],
            d["S"][sl],
            d["K"][sl],
            d["T"][sl],
            d["r"][sl],
            iv,
            q=d["q"][sl],
            model="black_scholes_merton",
            return_as="dict",
        )

    small = slice(0, 1000)
    greeks_call(iv_call(small), small)
    iv = np.asarray(iv_call(), dtype=np.float64)
    greeks_call(iv)
    t_iv = _median_time(iv_call, repeats)
    t_greeks = _median_time(lambda: greeks_call(iv), repeats)
    from importlib.metadata import version

    meta = {
        "n": len(flags),
        "threads": 1,
        "iv_s": t_iv,
        "greeks_s": t_greeks,
        "versions": {p: version(p) for p in ("py_vollib_vectorized", "py_vollib", "py_lets_be_rational")}
        | {"numba": numba.__version__, "numpy": np.__version__},
    }
    iv_exact = np.asarray(iv_call(pre="exact_"), dtype=np.float64)
    np.savez(dst, iv=iv, iv_exact=iv_exact, meta=np.array(json.dumps(meta)))


def measure(
    n: int = 1_000_000,
    repeats: int = 5,
    scenario: str = "wide",
    venv: Path = DEFAULT_VENV,
    competitor: bool = True,
    exact_rows: int = 20_000,
) -> dict[str, Any]:
    """Benchmark both engines on ``n`` options; returns throughputs (options/s) and IV accuracy.

    Accuracy is the fraction of IVs within 1e-6 of the true volatility: over all rows and over the
    well-conditioned rows of the timed set (Let's Be Rational premiums), and over ``exact_rows`` rows
    with correctly rounded premiums.
    """
    inputs = make_inputs(n, scenario)
    exact = exact_subsample(inputs, exact_rows)
    well = well_conditioned(inputs)
    well_exact = well_conditioned(exact)
    ours = time_ours(inputs, repeats, exact)
    result: dict[str, Any] = {
        "n": n,
        "scenario": scenario,
        "repeats": repeats,
        "well_conditioned_fraction": float(well.mean()),
        "exact_rows": len(exact["S"]),
        "cutemarkets": {
            "threads": ours["threads"],
            "iv_per_s": n / ours["iv_s"],
            "greeks_per_s": n / ours["greeks_s"],
            "iv_and_greeks_per_s": n / ours["iv_and_greeks_s"],
            "iv_and_greeks_1thread_per_s": n / ours["iv_and_greeks_1thread_s"],
            **_accuracy(ours["iv"], inputs, well),
            **_accuracy(ours["iv_exact"], exact, well_exact, "exact_"),
        },
    }
    if competitor:
        comp = time_competitor(inputs, repeats, venv, exact)
        result["py_vollib_vectorized"] = {
            "threads": comp["threads"],
            "iv_per_s": n / comp["iv_s"],
            "greeks_per_s": n / comp["greeks_s"],
            "iv_and_greeks_per_s": n / (comp["iv_s"] + comp["greeks_s"]),
            "versions": comp["versions"],
            **_accuracy(comp["iv"], inputs, well),
            **_accuracy(comp["iv_exact"], exact, well_exact, "exact_"),
        }
        result["speedup_iv_and_greeks"] = (
            result["cutemarkets"]["iv_and_greeks_per_s"] / result["py_vollib_vectorized"]["iv_and_greeks_per_s"]
        )
    return result


def _print_table(res: dict[str, Any]) -> None:
    print(
        f"n = {res['n']:,} options, scenario '{res['scenario']}', median of {res['repeats']} runs; "
        f"well-conditioned rows: {res['well_conditioned_fraction']:.1%}; "
        f"exact-price accuracy sample: {res['exact_rows']:,} rows"
    )
    header = (
        f"{'engine':<34}{'IV/s':>9}{'greeks/s':>11}{'IV+greeks/s':>13}"
        f"{'|IV err|<1e-6: all':>20}{'well-cond':>11}{'exact all':>11}{'exact well':>12}"
    )
    print(header)
    print("-" * len(header))
    rows = [("cutemarkets", res["cutemarkets"])]
    if "py_vollib_vectorized" in res:
        rows.append(("py_vollib_vectorized", res["py_vollib_vectorized"]))
    for name, r in rows:
        label = f"{name} ({r['threads']} thread{'s' if r['threads'] > 1 else ''})"
        print(
            f"{label:<34}{r['iv_per_s'] / 1e6:>7.2f} M{r['greeks_per_s'] / 1e6:>9.2f} M"
            f"{r['iv_and_greeks_per_s'] / 1e6:>11.2f} M{r['within_1e-6_all']:>20.2%}"
            f"{r['within_1e-6_well_conditioned']:>11.3%}{r['exact_within_1e-6_all']:>11.2%}"
            f"{r['exact_within_1e-6_well_conditioned']:>12.3%}"
        )
    ours = res["cutemarkets"]
    print(f"{'cutemarkets fused, 1 thread':<34}{'':>9}{'':>11}{ours['iv_and_greeks_1thread_per_s'] / 1e6:>11.2f} M")
    if "speedup_iv_and_greeks" in res:
        print(f"speed-up on IV + greeks: {res['speedup_iv_and_greeks']:.2f}x")
        versions = res["py_vollib_vectorized"]["versions"]
        print("competitor versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))


def run(data_dir: Path, console: Any) -> dict[str, Any]:
    """The ``greeks`` suite of ``cutemarkets bench``: both scenarios, 1,000,000 options, median of 5 runs."""
    out: dict[str, Any] = {}
    for scenario in ("wide", "liquid"):
        res = measure(1_000_000, 5, scenario, data_dir / "venv-py-vollib-vectorized")
        _print_table(res)
        out[scenario] = res
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1_000_000, help="options per run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per engine (median reported)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append", help="default: wide and liquid")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="competitor virtualenv")
    parser.add_argument("--no-competitor", action="store_true", help="time only this engine")
    parser.add_argument("--exact-rows", type=int, default=20_000, help="rows re-priced exactly for accuracy")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--competitor-worker", nargs=2, metavar=("INPUTS", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.competitor_worker:
        _competitor_worker(*args.competitor_worker, repeats=args.repeats)
        return
    results = []
    for i, scenario in enumerate(args.scenario or ["wide", "liquid"]):
        if i:
            print()
        res = measure(args.n, args.repeats, scenario, args.venv, not args.no_competitor, args.exact_rows)
        _print_table(res)
        results.append(res)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
