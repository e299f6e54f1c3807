"""End to end in headless Chromium: `opmatrix dashboard` serves a page that works offline, a
lever changes the simulation, and play advances the charts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited early:\n{proc.stdout.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise AssertionError("dashboard did not start listening in time")


@contextlib.contextmanager
def serve_dashboard(*args: str):
    """Start ``opmatrix dashboard <args>`` on a free port, yield its URL, stop its process group."""
    port = _free_port()
    opmatrix = Path(sys.executable).parent / "opmatrix"
    proc = subprocess.Popen(
        [str(opmatrix), "dashboard", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so teardown can stop everything the command started
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first, first
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def dashboard_url():
    with serve_dashboard("quickstart", "--set", "population.size=2000", "--set", "days=120") as url:
        yield url


@pytest.fixture()
def browser_page():
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1100})

        def guard(route):
            url = urlparse(route.request.url)
            if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOCAL_HOSTS:
                outside.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        context.route("**/*", guard)
        page = context.new_page()
        page.on(
            "websocket",
            lambda ws: outside.append(ws.url)
            if urlparse(ws.url).hostname not in LOCAL_HOSTS
            else None,
        )
        yield page, outside
        browser.close()


def _kpi(page, key: str, strategy: str = "A") -> str:
    return page.locator(f'[data-kpi="{key}"][data-strategy="{strategy}"]').inner_text().strip()


def _steps(page, n: int) -> None:
    """Press Step ``n`` times, waiting for the day counter to move each time."""
    for _ in range(n):
        before = _kpi(page, "day")
        page.get_by_role("button", name="Step").click()
        page.wait_for_function(
            "b => document.querySelector('[data-kpi=day][data-strategy=A]')"
            ".textContent.trim() !== b",
            arg=before,
            timeout=30_000,
        )


def test_dashboard_lever_and_play_change_the_charts(dashboard_url, browser_page, tmp_path):
    page, outside = browser_page
    page.goto(dashboard_url)
    page.locator('[data-kpi="acquisitions"][data-strategy="A"]').wait_for(timeout=90_000)
    for chart in ("funnel", "conversion", "retention"):
        assert page.locator(f".opmatrix-chart-{chart} img").count() == 1, chart
    assert _kpi(page, "day") == "0"

    # Baseline: 4 steps of the default render interval (5 days) = day 20.
    _steps(page, 4)
    assert _kpi(page, "day") == "20"
    baseline = int(_kpi(page, "acquisitions").replace(",", ""))
    chart_before = page.locator(".opmatrix-chart-conversion img").get_attribute("src")

    # Lever: branch reach to its maximum (×5), then Reset to apply it, same seed, same days.
    slider = page.locator(".v-input", has_text="branch: daily reach multiplier").locator(
        "[role=slider]"
    )
    slider.focus()
    slider.press("End")
    page.wait_for_function(
        "el => el.getAttribute('aria-valuenow') === '5'", arg=slider.element_handle()
    )
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function(
        "() => document.querySelector('[data-kpi=day][data-strategy=A]').textContent.trim()"
        " === '0'"
    )
    _steps(page, 4)
    assert _kpi(page, "day") == "20"
    boosted = int(_kpi(page, "acquisitions").replace(",", ""))
    assert boosted > baseline, (baseline, boosted)
    assert page.locator(".opmatrix-chart-conversion img").get_attribute("src") != chart_before

    # Play runs on by itself; the day counter and the conversion chart keep moving.
    page.get_by_role("button", name="▶").click()
    page.wait_for_function(
        "() => parseInt(document.querySelector('[data-kpi=day][data-strategy=A]')"
        ".textContent.replace(/,/g, '')) >= 40",
        timeout=60_000,
    )
    page.get_by_role("button", name="❚❚").click()
    assert int(_kpi(page, "acquisitions").replace(",", "")) >= boosted
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    assert outside == [], f"the page tried to load from outside localhost: {outside[:5]}"
