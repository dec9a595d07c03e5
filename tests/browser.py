"""A headless system Chromium driven by Selenium through the system chromedriver (never a downloaded
browser), with the console's sign-in, console-error and off-machine-request checks."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
DRIVERS = ("chromedriver",)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
ARTIFACTS = Path(
    os.environ.get("CUTEMARKETS_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")
)


def find(names: tuple[str, ...], extra: tuple[str, ...] = ()) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for path in extra:
        if Path(path).is_file():
            return path
    return None


def chrome_or_skip() -> tuple[str, str]:
    """The system browser and driver; outside CI their absence skips, in CI it fails."""
    browser = find(BROWSERS)
    driver = find(DRIVERS, ("/usr/lib/chromium/chromedriver",))
    if browser and driver:
        return browser, driver
    reason = "no system chromium/chromedriver found (Debian: apt-get install chromium chromium-driver)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " — .ci/run installs them")
    pytest.skip(reason)


def new_driver(browser: str, driver: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1440,1100",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


class Console:
    """One browser session against a running server."""

    def __init__(self, drv: Any, base_url: str) -> None:
        self.drv = drv
        self.base = base_url

    def sign_in(self, key: str) -> None:
        self.drv.get(self.base + "/console/")
        self.drv.execute_script("sessionStorage.setItem('cutemarkets.key', arguments[0]);", key)

    def sign_out(self) -> None:
        self.drv.get(self.base + "/console/")
        self.drv.execute_script("sessionStorage.clear();")

    def open(self, path: str, ready: str = "ready", timeout_s: float = 30.0) -> None:
        self.drain()
        self.drv.get(self.base + path)
        self.wait(
            lambda: self.drv.execute_script(f"return document.body.dataset.{ready} !== undefined"), timeout_s, ready
        )

    def wait(self, cond: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
        deadline = time.time() + timeout_s
        while True:
            got = cond()
            if got:
                return got
            if time.time() > deadline:
                errors = self.drv.execute_script("return document.getElementById('page-error')?.textContent")
                raise AssertionError(f"timed out waiting for {what}; page error: {errors!r}")
            time.sleep(0.05)

    def js(self, script: str, *args: Any) -> Any:
        return self.drv.execute_script(script, *args)

    def text(self, css: str) -> str:
        return self.js("return document.querySelector(arguments[0])?.innerText ?? ''", css)

    def page_error(self) -> str | None:
        return self.js("const e = document.getElementById('page-error'); return e && !e.hidden ? e.textContent : null")

    def drain(self) -> None:
        self.drv.get_log("browser")
        self.drv.get_log("performance")

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.drv.get_log("browser") if e["level"] == "SEVERE"]

    def requested_urls(self) -> list[str]:
        urls = []
        for entry in self.drv.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
                urls.append(msg["params"].get("request", {}).get("url") or msg["params"].get("url", ""))
        return urls

    def assert_clean(self) -> list[str]:
        """No console errors and no request leaving the machine since the last :meth:`open`."""
        errors = self.console_errors()
        assert not errors, f"console errors: {errors}"
        urls = self.requested_urls()
        outside = [
            u for u in urls if urlparse(u).scheme not in ("data", "blob") and urlparse(u).hostname not in LOCAL_HOSTS
        ]
        assert not outside, f"requests left the machine: {outside}"
        return urls

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"console-{name}.png"
        for _ in range(2):  # charts reflow after a resize, which can change the page's height
            height = self.js("return Math.min(document.documentElement.scrollHeight, 3000)")
            self.drv.set_window_size(1440, max(900, int(height) + 20))
            time.sleep(0.4)
        self.drv.save_screenshot(str(path))
        self.drv.set_window_size(1440, 1100)
        return path
