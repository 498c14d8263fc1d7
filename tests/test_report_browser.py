"""The HTML report in a real headless browser (Debian's Chromium): it renders, every image
loads, and the leaderboard and findings are on the page. Slow: needs /usr/bin/chromium
(``make test-slow`` installs it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_benchmark import TINY, typed

from experiments.app.drive import CHROMIUM, FLAGS
from experiments.jobs import benchmark


@pytest.mark.slow
def test_report_opens_in_chromium_with_every_image_loaded(tmp_path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium not found: apt-get install chromium (make test-slow does)")
    from playwright.sync_api import sync_playwright

    agents = "agent=[no_offer,playbook,pain_point_rule,thompson,maskable_ppo]"
    benchmark.run(typed([agents, *TINY], tmp_path))
    report = tmp_path / "report.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        heading = page.inner_text("h1")
        rows = page.locator("table tr").count()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert heading == "Win-back policy leaderboard"
    assert rows == 1 + 5  # header + one row per agent
    assert len(images) >= 5
    for alt, complete, width in images:
        assert complete and width > 100, f"image {alt} did not load"
    assert (tmp_path / "report.png").stat().st_size > 50_000
