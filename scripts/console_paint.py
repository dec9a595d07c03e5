"""Measure how long the console's option chain page takes to paint, in a headless system Chromium.

Usage: python scripts/console_paint.py --base-url http://127.0.0.1:8000 --key cm_… [--runs 5]

"Paint" is the instant (ms after navigation start, the page's performance.now()) at which the chain table
has been filled with the API's answer; the IV smile chart is drawn after it. Each run opens the page in a
new browser (empty cache: the chart library is fetched too) and then reloads it once (warm browser cache).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def driver() -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("google-chrome") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,900"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=opts)


def painted_ms(drv: webdriver.Chrome, url: str, timeout_s: float = 60.0) -> float:
    drv.get(url)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        got = drv.execute_script("return document.body && document.body.dataset.painted")
        if got:
            return float(got)
        time.sleep(0.01)
    raise RuntimeError("the chain page did not paint")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", default="http://127.0.0.1:8000")
    ap.add_argument("--key", required=True)
    ap.add_argument("--path", default="/console/chain", help="page and query, e.g. /console/chain?underlying=QQQ")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        drv = driver()
        try:
            drv.get(args.base_url + "/console/")
            drv.execute_script("sessionStorage.setItem('cutemarkets.key', arguments[0])", args.key)
            cold.append(painted_ms(drv, args.base_url + args.path))
            warm.append(painted_ms(drv, args.base_url + args.path))
        finally:
            drv.quit()
    print(f"cold browser cache: median {statistics.median(cold):.0f} ms  runs {[round(x) for x in cold]}")
    print(f"warm browser cache: median {statistics.median(warm):.0f} ms  runs {[round(x) for x in warm]}")


if __name__ == "__main__":
    main()
