"""The web app in a real browser (Debian's Chromium through Playwright), started as a user
starts it (``winback app``): a strategist's path from the scenario to a ranked comparison,
bad input shown in the page's own words, and two users at once. It also refreshes the
screenshots in ``docs/app/`` (one per page). Slow: needs /usr/bin/chromium (``make
test-slow`` installs it) and the playwright package (no browser download: Debian's)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from experiments.app import drive
from experiments.app.drive import CHROMIUM, FLAGS, WATCH, Server, go, heading, idle, rerun
from experiments.app.offers_table import SHOWN

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    pytest.skip(
        "Chromium not found at /usr/bin/chromium: apt-get install chromium (make test-slow does)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright not installed: pip install -e '.[dev]'"
)
Page = sync_api.Page
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "app"
WIDTH, HEIGHT = 1400, 900
STARTUP_SECONDS = 60
RUN_MS = 150_000  # a small comparison, from the click to its table (two at once on 2 cores)
PRICE_MESSAGE = (
    "plans.standard.monthly_price: '17,99' is not a number; allowed: a number >= 0, e.g. 17.99"
)
RENDERED = {">=": "\u2265", "<=": "\u2264"}
"""Streamlit's markdown (st.error) sets the CLI's >= and <= as the signs."""
DISCOUNT_MESSAGE = (
    "offers.discount_30.discount: 1.5 is not a probability; allowed: a number in [0, 1]"
)


# ------------------------------------------------------------------ the app and the browser
@pytest.fixture
def app(tmp_path: Path) -> Iterator[Server]:
    """The app as a user starts it, in a folder of its own; stopped with its runs."""
    started = Server(tmp_path)
    try:
        started.wait_healthy(STARTUP_SECONDS)
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def open_page(browser: Any, app: Server) -> Page:
    """A new browser session (its own context: cookies, storage) on the app."""
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app.url)
    expect(heading(page, "Compare policies")).to_be_visible(timeout=STARTUP_SECONDS * 1000)
    idle(page)
    return page


# ------------------------------------------------------------------ what a user does
def type_into(page: Page, label: str, value: str) -> None:
    """Type into a number or text field as a person does and wait for the page's run."""
    idle(page, drive.type_into(page, label, value)[1])
    expect(page.get_by_label(label, exact=True)).to_have_value(value)


def edit_offer_cell(page: Page, row: int, column: int, value: str) -> None:
    """Type ``value`` into the offers table (a canvas grid: glide-data-grid) at data row
    ``row`` and column ``column`` (0: name): click the row's name cell, arrow to the
    column, Enter to open its editor, type, Enter."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    canvas = grid.locator('[data-testid="data-grid-canvas"]')
    box = canvas.bounding_box()
    assert box is not None
    header, height = 36, 35  # the grid's header and row heights (px)
    page.mouse.click(box["x"] + 70, box["y"] + header + row * height + height / 2)
    for _ in range(column):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")  # opens the cell's editor (typing at once loses keys)
    editor = page.locator("#portal .gdg-input")
    expect(editor).to_be_focused()
    page.wait_for_timeout(300)  # the editor takes the cell's value as it opens
    page.keyboard.press("Control+a")
    page.keyboard.type(value, delay=50)  # as a person types (at once, the grid may miss it)
    expect(editor).to_have_value(value)
    page.wait_for_timeout(300)
    rerun(page, lambda: page.keyboard.press("Enter"))
    expect(editor).to_have_count(0)
    expect(cell(page, row, column)).to_have_text(value)


def cell(page: Page, row: int, column: int) -> Any:
    """A grid cell in the grid's accessible table (its column 0 is the row marker)."""
    return page.locator(f'[data-testid="stDataFrame"] [id="glide-cell-{column + 1}-{row}"]').first


def cell_text(page: Page, row: int, column: int) -> str:
    return str(cell(page, row, column).text_content()).strip()


def rendered(message: str) -> str:
    """A CLI message as the page shows it (see RENDERED)."""
    for typed, shown in RENDERED.items():
        message = message.replace(typed, shown)
    return message


def text(page: Page) -> str:
    return str(page.locator('[data-testid="stMain"]').inner_text())


def no_error(page: Page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, text(page)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, text(page)
    assert "Traceback" not in text(page)


def choose_small_run(page: Page, seeds: int = 1) -> None:
    """On Compare: no_offer, playbook and the default blanket offer; ``seeds`` seeds."""
    for name in ("pain_point_rule", "uplift", "thompson"):
        rerun(page, page.get_by_role("button", name=f"Remove {name}", exact=True).first.click)
    thumb = page.get_by_role("slider").first
    if thumb.input_value() != str(seeds):
        thumb.focus()
        page.keyboard.press("Home")
        for _ in range(seeds - 1):
            page.keyboard.press("ArrowRight")
        expect(thumb).to_have_value(str(seeds))
        idle(page, 0)  # keys make a run each (at least one ended since the page opened)


def run_button(page: Page) -> Any:
    return page.get_by_role("button", name="Run the comparison", exact=True)


def wait_for_results(page: Page, timeout: float = RUN_MS) -> None:
    expect(heading(page, "Ranked by incremental profit")).to_be_visible(timeout=timeout)
    idle(page)


def board_text(page: Page) -> str:
    """The ranked table's cells (a canvas: read from the grid's accessible table)."""
    return str(page.locator('[data-testid="stDataFrame"]').first.text_content())


def caption(run: Path, users: int) -> str:
    """The start of the ranked table's caption for ``run`` (outputs/app/<session>/<run>)."""
    return f"outputs/app/{run.parent.name}/{run.name}: streaming, {users:,} customers"


def session_of(page: Page) -> str:
    match = re.search(r"[?&]session=([A-Za-z0-9_-]+)", page.url)
    assert match, page.url
    return match[1]


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot, 1400 px wide, to docs/app/NAME.png. The page scrolls inside
    Streamlit's main area, so the window is made as tall as that area's content first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    idle(page)
    page.wait_for_load_state("load")
    tall = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": WIDTH, "height": max(HEIGHT, min(int(tall), 12_000))})
    page.wait_for_timeout(700)  # the canvas grids and images lay out again
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.wait_for_timeout(200)


# ------------------------------------------------------------------ tests
def test_a_strategists_path_from_scenario_to_ranked_policies(browser: Any, app: Server) -> None:
    page = open_page(browser, app)
    sid = session_of(page)

    go(page, "Scenario", "Scenario")
    type_into(page, "Customers simulated", "2000")
    expect(page.get_by_text("Ready: 2,000 customers of streaming")).to_be_visible()
    no_error(page)
    shoot(page, "scenario")

    go(page, "Offers", "Offers")
    discount = SHOWN.index("discount")
    assert cell_text(page, 1, 0) == "discount_30" and cell_text(page, 1, discount) == "0.3"
    edit_offer_cell(page, row=1, column=discount, value="0.25")  # discount_30's discount
    no_error(page)
    shoot(page, "offers")

    go(page, "Compare policies", "Compare policies")
    expect(page.get_by_text("2,000 customers, 182 days")).to_be_visible()
    choose_small_run(page)
    run_button(page).click()
    wait_for_results(page)
    no_error(page)
    board = board_text(page)
    assert "playbook" in board and "no_offer" in board and "blanket_discount_30" in board
    (run,) = app.runs()
    assert run.parent.name == sid
    offers = (run / "config" / "offers" / "app.yaml").read_text()
    assert re.search(r"name: discount_30\n(?:  .*\n)*?  discount: 0\.25\n", offers), offers
    expect(page.get_by_text(caption(run, 2_000))).to_be_visible()
    shoot(page, "compare")

    for link, title, name in (
        ("Long runs and past runs", "Long runs and past runs", "runs"),
        ("Robustness", "Robustness", "robustness"),
        ("Live test plan", "Live test plan", "plan"),
        ("Calibrate from a log", "Calibrate from a log", "calibrate"),
    ):
        go(page, link, title)
        no_error(page)
        shoot(page, name)
    page.context.close()


def test_bad_input_shows_the_clis_message_in_the_page_and_runs_nothing(
    browser: Any, app: Server
) -> None:
    page = open_page(browser, app)
    go(page, "Scenario", "Scenario")
    type_into(page, "standard: monthly price", "17,99")
    expect(page.get_by_text(rendered(PRICE_MESSAGE)).first).to_be_visible()
    assert "Traceback" not in text(page)
    assert page.locator('[data-testid="stException"]').count() == 0

    go(page, "Compare policies", "Compare policies")
    expect(page.get_by_text(f"Scenario page: {rendered(PRICE_MESSAGE)}")).to_be_visible()
    expect(run_button(page)).to_be_disabled()

    go(page, "Offers", "Offers")
    edit_offer_cell(page, row=1, column=SHOWN.index("discount"), value="1.5")
    expect(page.get_by_text(f"row 2 (discount_30): {DISCOUNT_MESSAGE}")).to_be_visible()
    assert "Traceback" not in text(page)
    shoot(page, "offers_error")

    go(page, "Compare policies", "Compare policies")
    shown = f"Offers page, row 2 (discount_30): {DISCOUNT_MESSAGE}"
    expect(page.get_by_text(shown)).to_be_visible()
    expect(run_button(page)).to_be_disabled()
    assert "Traceback" not in text(page)
    assert not (app.out / "app").exists() or not any((app.out / "app").rglob("*"))
    page.context.close()


def test_two_users_at_once_each_see_their_own_run(browser: Any, app: Server) -> None:
    pages = {}
    for users in (2_000, 3_000):
        page = open_page(browser, app)
        go(page, "Scenario", "Scenario")
        type_into(page, "Customers simulated", str(users))
        go(page, "Compare policies", "Compare policies")
        expect(page.get_by_text(f"{users:,} customers, 182 days")).to_be_visible()
        choose_small_run(page)
        pages[users] = page
    for page in pages.values():  # about the same time
        run_button(page).click()
    for page in pages.values():
        wait_for_results(page)
        no_error(page)

    sessions = {users: session_of(page) for users, page in pages.items()}
    assert sessions[2_000] != sessions[3_000]
    runs = app.runs()
    assert len(runs) == 2
    by_session = {run.parent.name: run for run in runs}
    assert set(by_session) == set(sessions.values())  # two session folders
    for users, page in pages.items():
        mine = by_session[sessions[users]]
        other = next(s for u, s in sessions.items() if u != users)
        expect(page.get_by_text(caption(mine, users))).to_be_visible()
        assert other not in text(page)  # neither the other's run nor its session
        assert "playbook" in board_text(page)

    page = pages[3_000]
    address = page.url
    page.reload()
    expect(heading(page, "Compare policies")).to_be_visible(timeout=STARTUP_SECONDS * 1000)
    wait_for_results(page, timeout=30_000)
    assert page.url == address
    mine = by_session[sessions[3_000]]
    expect(page.get_by_text(caption(mine, 3_000))).to_be_visible()
    assert sessions[2_000] not in text(page)
    for page in pages.values():
        page.context.close()
