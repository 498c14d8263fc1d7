"""``winback perf app``: the web app as a strategist feels it, in one run, against the issue's
targets, in a real browser (Debian's Chromium through Playwright):

* start-up: from launching ``winback app`` to the first page drawn in the browser (the
  "Compare policies" title visible); the time to its health endpoint too (target 10 s);
* the quick comparison: the Compare page's policies (no_offer, playbook, pain_point_rule,
  uplift, thompson; its default blanket offer removed: 5 policies) on ``--users`` customers
  over ``--days`` days with ``--seeds`` seeds, from the click on "Run the comparison" to the
  ranked table on the page (target 30 s). A first run warms numba's on-disk cache (cold
  after a change to the simulator's code or a fresh install, else warm already); the second
  is the measured one; both are reported, each split into the click to the job's start,
  the job itself (``job.json``'s start to ``job.exit``) and its end to the table (the page
  polls once a second), with the command it ran;
* edit and re-validate: a plan price typed on the Scenario page, from the Enter that commits
  it to the page showing the outcome: a non-numeric price ("17,99") until its message shows,
  a good one until the message is gone and "Ready" shows; the median of 10 of each (target
  under 1 s).

The app runs as a user runs it, in a temporary folder (``--config-dir my_conf --out
outputs``), on ``--port`` (0: a free port). Without a browser (no /usr/bin/chromium, or no
playwright package) it says so and falls back: start-up to the health endpoint only, and
the comparison and the edits through Streamlit's AppTest (the same pages, headless: no
drawing, no websocket, so these times are lower bounds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from experiments.app.drive import (
    CHROMIUM,
    FLAGS,
    WATCH,
    Server,
    browser_missing,
    go,
    heading,
    idle,
    rerun,
    stop_runs,
    type_into,
)

TARGETS = {"startup": 10.0, "comparison": 30.0, "edit": 1.0}  # seconds (edit: below)
POLICIES = ("no_offer", "playbook", "pain_point_rule", "uplift", "thompson")
EDITS = 10
BAD_PRICE = "17,99"
PRICE_LABEL = "standard: monthly price"
PRICE_KEY = "plans.standard.monthly_price"
RUN_TIMEOUT_MS = 20 * 60_000
WARM = ("warm-up (compiles numba's on-disk cache if it is cold)", "measured (cache warm)")


def compare_folders(out: Path) -> list[Path]:
    return sorted((out / "app").glob("*/*-compare"))


def job_times(folder: Path) -> dict[str, Any]:
    """When the job's process started and ended (``job.json``'s start, ``job.exit``'s
    time), as epoch seconds, and its command."""
    from experiments.app.jobs import load

    job = load(folder)
    if job is None:
        raise RuntimeError(f"{folder} holds no readable job.json")
    return {
        "started": datetime.fromisoformat(job.started).timestamp(),
        "ended": (folder / "job.exit").stat().st_mtime,
        "command": job.command,
    }


def edits_in_browser(page: Any) -> dict[str, list[float]]:
    """Seconds from the Enter to the outcome shown, for a bad and a good price, alternately."""
    message = page.get_by_text(f"{PRICE_KEY}: '{BAD_PRICE}' is not a number").first
    ready = page.get_by_text("Ready: ").first
    errors = page.locator('[data-testid="stAlertContentError"]')
    out: dict[str, list[float]] = {"bad": [], "good": []}
    for i in range(EDITS):
        start, before = type_into(page, PRICE_LABEL, BAD_PRICE)
        message.wait_for(state="visible", timeout=30_000)
        out["bad"].append(time.perf_counter() - start)
        idle(page, before)
        start, before = type_into(page, PRICE_LABEL, f"{15.49 + 0.01 * (i + 1):.2f}")
        ready.wait_for(state="visible", timeout=30_000)
        errors.first.wait_for(state="detached", timeout=30_000)
        out["good"].append(time.perf_counter() - start)
        idle(page, before)
    return out


def comparison_in_browser(page: Any, out: Path) -> dict[str, float]:
    """One comparison from the click to its ranked table; the job's times beside it."""
    before = set(compare_folders(out))
    clicked = time.perf_counter()
    clicked_epoch = time.time()
    page.get_by_role("button", name="Run the comparison", exact=True).click()
    deadline = time.monotonic() + 60
    while not (new := set(compare_folders(out)) - before):
        if time.monotonic() > deadline:
            raise TimeoutError("no comparison started within 60 s of the click")
        time.sleep(0.05)
    (folder,) = new
    page.get_by_text(f"{folder.name}: ").first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    heading(page, "Ranked by incremental profit").wait_for(state="visible")
    page.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible")
    shown = time.perf_counter() - clicked
    if not (folder / "summary.json").exists():
        raise RuntimeError(f"the comparison in {folder} wrote no summary.json")
    job = job_times(folder)
    return {
        "click_to_table_seconds": round(shown, 2),
        "click_to_job_start_seconds": round(job["started"] - clicked_epoch, 2),
        "job_seconds": round(job["ended"] - job["started"], 2),
        "job_end_to_table_seconds": round(clicked_epoch + shown - job["ended"], 2),
        "command": job["command"],
    }


def in_browser(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(WATCH)
        page = context.new_page()
        page.set_default_timeout(60_000)
        server = Server(folder, args.port)
        try:
            health = server.wait_healthy()
            print(f"health endpoint answers {health:.2f} s after the launch", flush=True)
            page.goto(server.url)
            heading(page, "Compare policies").wait_for(state="visible", timeout=120_000)
            first_page = time.perf_counter() - server.t0
            print(f"first page drawn {first_page:.2f} s after the launch", flush=True)
            idle(page)

            go(page, "Scenario", "Scenario")
            edits = edits_in_browser(page)
            print(
                f"edits: bad price median {statistics.median(edits['bad']):.3f} s, good "
                f"{statistics.median(edits['good']):.3f} s ({EDITS} each)",
                flush=True,
            )
            for label, value in (
                ("Customers simulated", args.users),
                ("Horizon (days)", args.days),
            ):
                idle(page, type_into(page, label, str(value))[1])
            ready = f"Ready: {args.users:,} customers of streaming over {args.days} days"
            page.get_by_text(ready).first.wait_for(state="visible")

            go(page, "Compare policies", "Compare policies")
            remove = page.get_by_role("button", name="Remove discount_30", exact=True).first
            rerun(page, remove.click)
            thumb = page.get_by_role("slider").first
            if thumb.input_value() != str(args.seeds):
                thumb.focus()
                page.keyboard.press("Home")
                for _ in range(args.seeds - 1):
                    page.keyboard.press("ArrowRight")
                idle(page, 0)
            if thumb.input_value() != str(args.seeds):
                raise RuntimeError(f"the seeds slider shows {thumb.input_value()}")
            runs = []
            for label in WARM:
                print(f"comparison, {label} ...", flush=True)
                runs.append(comparison_in_browser(page, folder / "outputs"))
                print(f"  {runs[-1]['click_to_table_seconds']:.1f} s: {runs[-1]}", flush=True)
        finally:
            server.stop()
            browser.close()
    return {
        "browser": "chromium",
        "startup_health_seconds": round(health, 2),
        "startup_first_page_seconds": round(first_page, 2),
        "comparison_warmup": runs[0],
        "comparison": runs[1],
        "edit_bad_seconds": [round(x, 3) for x in edits["bad"]],
        "edit_good_seconds": [round(x, 3) for x in edits["good"]],
    }


# ------------------------------------------------------------------ without a browser
def headless(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The fallback: the health endpoint, then the pages through AppTest."""
    from streamlit.testing.v1 import AppTest

    from experiments import app
    from experiments.app import jobs

    server = Server(folder, args.port)
    try:
        health = server.wait_healthy()
    finally:
        server.stop()
    print(f"health endpoint answers {health:.2f} s after the launch", flush=True)
    here = Path.cwd()
    os.environ["WINBACK_APP_CONFIG_DIR"], os.environ["WINBACK_APP_OUT"] = "my_conf", "outputs"
    os.chdir(folder)
    try:
        at = AppTest.from_file(str(Path(app.__file__).with_name("main.py")), default_timeout=120)
        at.run()
        at.switch_page("pages/scenario.py").run()
        v = at.session_state["form_version"]

        def timed(change: Callable[[], Any]) -> float:
            start = time.perf_counter()
            change()
            at.run()
            return time.perf_counter() - start

        def price(value: str) -> Callable[[], Any]:
            return lambda: at.text_input(key=f"price-standard-{v}").set_value(value)

        edits: dict[str, list[float]] = {"bad": [], "good": []}
        for i in range(EDITS):
            edits["bad"].append(timed(price(BAD_PRICE)))
            if not any(str(e.value).startswith(f"{PRICE_KEY}: '{BAD_PRICE}'") for e in at.error):
                raise RuntimeError("the bad price's message did not show")
            edits["good"].append(timed(price(f"{15.49 + 0.01 * (i + 1):.2f}")))
            if at.error:
                raise RuntimeError(f"a good price left a message: {at.error[0].value}")
        at.number_input(key=f"users-{v}").set_value(args.users)
        at.number_input(key=f"days-{v}").set_value(args.days)
        at.run()
        at.switch_page("pages/compare.py").run()
        at.multiselect(key="policies-compare").set_value(list(POLICIES))
        at.multiselect(key="blankets-compare").set_value([])
        at.slider(key="seeds-compare").set_value(args.seeds)
        at.run()
        runs = []
        for label in WARM:
            print(f"comparison, {label} ...", flush=True)
            start = time.perf_counter()
            next(b for b in at.button if b.label == "Run the comparison").click().run()
            (job, *_) = jobs.jobs_of(Path("outputs/app"), at.session_state["session"])
            while jobs.status(job).state == "running":
                time.sleep(0.2)
            at.run()
            if not any(h.value == "Ranked by incremental profit" for h in at.subheader):
                raise RuntimeError(f"no ranked table: {jobs.status(job).error}")
            times = job_times(job.folder)
            runs.append(
                {
                    "click_to_table_seconds": round(time.perf_counter() - start, 2),
                    "job_seconds": round(times["ended"] - times["started"], 2),
                    "command": times["command"],
                }
            )
            print(f"  {runs[-1]}", flush=True)
    finally:
        os.chdir(here)
        stop_runs(folder / "outputs")
    return {
        "browser": None,
        "startup_health_seconds": round(health, 2),
        "startup_first_page_seconds": None,
        "comparison_warmup": runs[0],
        "comparison": runs[1],
        "edit_bad_seconds": [round(x, 3) for x in edits["bad"]],
        "edit_good_seconds": [round(x, 3) for x in edits["good"]],
    }


# ------------------------------------------------------------------ the measurement
def perf_app(args: argparse.Namespace) -> dict[str, Any]:
    missing = browser_missing()
    load = os.getloadavg()[0]
    print(
        f"winback app: the quick comparison is {len(POLICIES)} policies x {args.seeds} seeds, "
        f"{args.users:,} customers x {args.days} days ({os.cpu_count()} cores; load "
        f"{load:.2f})",
        flush=True,
    )
    if missing:
        print(
            f"no real browser ({missing}): start-up to the health endpoint only, the rest "
            "through AppTest (headless: lower bounds)",
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="winback-perf-app-") as tmp:
        measured = (headless if missing else in_browser)(args, Path(tmp))
    bad = statistics.median(measured["edit_bad_seconds"])
    good = statistics.median(measured["edit_good_seconds"])
    startup = measured["startup_first_page_seconds"] or measured["startup_health_seconds"]
    compare = measured["comparison"]["click_to_table_seconds"]
    warm = measured["comparison_warmup"]["click_to_table_seconds"]
    rows = [
        ("start-up: launch to health endpoint", measured["startup_health_seconds"], None),
        (
            "start-up: launch to first page drawn"
            if not missing
            else "start-up (no browser: to health endpoint)",
            startup,
            TARGETS["startup"],
        ),
        ("quick comparison, warm-up run", warm, None),
        ("quick comparison: click to ranked table", compare, TARGETS["comparison"]),
        (f"edit: bad price to its message (median of {EDITS})", bad, TARGETS["edit"]),
        (f"edit: good price to 'Ready' (median of {EDITS})", good, TARGETS["edit"]),
    ]
    print(f"\n{'measure':<52} {'seconds':>8}  {'target':>8}  verdict")
    verdicts = {}
    for name, value, target in rows:
        verdict = "" if target is None else ("met" if value <= target else "NOT met")
        if target is not None and name.startswith("edit"):
            verdict = "met" if value < target else "NOT met"
        shown = "" if target is None else f"{'<' if name.startswith('edit') else '<='} {target:g}"
        print(f"{name:<52} {value:>8.2f}  {shown:>8}  {verdict}")
        if target is not None:
            verdicts[name] = verdict
    end_load = os.getloadavg()[0]
    print(f"(load average: {load:.2f} at the start, {end_load:.2f} at the end)", flush=True)
    return {
        **measured,
        "users": args.users,
        "days": args.days,
        "seeds": args.seeds,
        "policies": list(POLICIES),
        "edit_bad_median_seconds": round(bad, 3),
        "edit_good_median_seconds": round(good, 3),
        "targets_seconds": TARGETS,
        "startup_met": startup <= TARGETS["startup"],
        "comparison_met": compare <= TARGETS["comparison"],
        "edit_met": max(bad, good) < TARGETS["edit"],
        "fallback": missing,
        "load_average_1min_start": round(load, 2),
        "load_average_1min_end": round(end_load, 2),
    }
