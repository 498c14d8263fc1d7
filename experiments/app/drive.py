"""Driving the app as a person does, in a real browser (Debian's Chromium through
Playwright): what the browser tests and ``winback perf app`` share.

Rules: the app is started as a user starts it (``winback app`` in a folder of its own, in its
own process group, stopped whole, with any run it started); a browser session waits for
Streamlit's script runs to end (the page marks its root ``data-test-script-state``) rather
than for fixed times; fields are typed as a person types them (select all, type, Enter).
Playwright is a development dependency: nothing here imports it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Chromium's flags here: no sandbox (a container), nothing fetched from the network."""
ROOT = Path(__file__).resolve().parents[2]  # the folder that holds experiments/ and sim/


def browser_missing() -> str | None:
    """Why the real browser cannot be used, or None."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``winback app`` in ``folder`` (``--config-dir my_conf --out outputs``, as a user in
    their project folder), in its own process group, launched at ``self.t0``."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder = folder
        self.out = folder / "outputs"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        paths = [str(ROOT), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        self.log = (folder / "app-server.log").open("wb")
        self.t0 = time.perf_counter()
        self.options = ["--port", str(self.port), "--config-dir", "my_conf", "--out", "outputs"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "experiments.cli", "app", *self.options],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, seconds: float = 120) -> float:
        """Seconds from the launch to the health endpoint's first answer."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.folder / "app-server.log").read_text(errors="replace")
                raise RuntimeError(f"winback app exited with {self.process.returncode}:\n{log}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - self.t0
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.url}/_stcore/health did not answer within {seconds} s")

    def runs(self) -> list[Path]:
        """The run folders under outputs/app (``<session>/<run>``)."""
        return sorted(p for p in (self.out / "app").glob("*/*") if p.is_dir())

    def stop(self) -> None:
        """The server's process group, then every run it started that is still going (runs
        are detached: process groups of their own)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()
        stop_runs(self.out)


def stop_runs(out: Path) -> None:
    """Stop every run under ``out/app`` still going (an interrupted test leaves none)."""
    from experiments.app import jobs

    for record in (out / "app").glob(f"*/*/{jobs.JOB}"):
        job = jobs.load(record.parent)
        if job is not None:
            jobs.cancel(job)  # a run that has ended is left as it is


# ------------------------------------------------------------------ in the browser
WATCH = """
window.__st = {ended: 0, changed: performance.now(), asked: 0};
new MutationObserver((records) => {
  for (const r of records) {
    window.__st.changed = performance.now();
    if (r.oldValue === "running") window.__st.ended += 1;
  }
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ["data-test-script-state"]});
"""
"""Counts the script's runs as the page sees them end (Streamlit marks its root element
``data-test-script-state``: running, notRunning, ...); a run too short to be drawn as
running is not counted: a second at rest after the action stands for it. Add it to a
browser context (``add_init_script``) before opening the app."""
IDLE = """(before) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const now = performance.now();
  return app !== null && app.getAttribute("data-test-script-state") === "notRunning"
    && now - window.__st.changed > 300
    && (window.__st.ended > before || now - window.__st.asked > 1000);
}"""
ASK = "() => { window.__st.asked = performance.now(); return window.__st.ended; }"


def idle(page: Any, before: int = -1) -> None:
    """Until a run ended after ``before`` runs had (or a second passed at rest), and the
    script has been at rest for 0.3 s."""
    from playwright.sync_api import TimeoutError as Timeout

    try:
        page.wait_for_function(IDLE, arg=before, timeout=120_000)
    except Timeout:
        state = page.evaluate(
            "() => [window.__st, document.querySelector('[data-testid=\"stApp\"]')"
            "?.getAttribute('data-test-script-state')]"
        )
        raise AssertionError(f"the app did not come to rest (runs ended, state: {state})") from None


def runs_ended(page: Any) -> int:
    """The script runs the page has seen end (and the moment asked: see ``IDLE``)."""
    return int(page.evaluate(ASK))


def rerun(page: Any, action: Callable[[], Any]) -> None:
    """Do ``action`` (which makes the script run again) and wait for that run to end."""
    before = runs_ended(page)
    action()
    idle(page, before)


def heading(page: Any, name: str) -> Any:
    return page.get_by_role("heading", name=name, exact=True).first


def go(page: Any, link: str, title: str) -> None:
    """Follow the navigation link ``link`` and wait for the page titled ``title``."""
    rerun(page, page.get_by_role("link", name=link, exact=True).click)
    heading(page, title).wait_for(state="visible")


def type_into(page: Any, label: str, value: str) -> tuple[float, int]:
    """Type ``value`` into the field ``label`` as a person does (select all, type) and
    press Enter; returns the moment of the Enter (``perf_counter``) and the runs ended
    before it (for ``idle``)."""
    field = page.get_by_label(label, exact=True)
    field.click()
    field.press("Control+a")
    field.type(value)
    before = runs_ended(page)
    start = time.perf_counter()
    field.press("Enter")
    return start, before
