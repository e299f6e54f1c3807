"""The Chinese dashboard in headless Chromium (issue 15): ``opmatrix dashboard --lang zh`` names
its tabs after what they show, labels KPIs and levers in Chinese, shows none of Mesa's developer
controls ("Use Threads", "Render Interval"), and its charts render on a CJK font."""

from __future__ import annotations

import pytest

from tests.test_dashboard_browser import (  # noqa: F401 - fixtures and helpers
    CHROMIUM,
    _kpi,
    _steps,
    browser_page,
    serve_dashboard,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def zh_dashboard_url():
    with serve_dashboard("quickstart", "--lang", "zh",
                         "--set", "population.size=1500", "--set", "days=60") as url:
        yield url


def test_chinese_dashboard(zh_dashboard_url, browser_page, tmp_path):  # noqa: F811
    page, outside = browser_page
    page.goto(zh_dashboard_url)
    page.locator('[data-kpi="acquisitions"][data-strategy="A"]').wait_for(timeout=90_000)
    text = page.locator("body").inner_text()
    for words in ("策略与指标", "社交网络", "获客数", "转化率", "获客成本", "策略杠杆",
                  "每日触达倍数", "口碑"):
        assert words in text, words
    for mesa_default in ("Page 0", "PAGE 0", "Use Threads", "Render Interval"):
        assert mesa_default not in text, mesa_default
    _steps(page, 1)
    assert _kpi(page, "day") == "5"
    page.screenshot(path=str(tmp_path / "dashboard_zh.png"), full_page=True)
    page.get_by_role("tab", name="社交网络").click()
    page.locator(".opmatrix-chart-network img").wait_for(timeout=60_000)
    assert outside == []
