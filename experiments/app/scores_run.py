"""What the "Who is about to leave" page runs (``winback score``) and how it reads the
results back, in a strategist's words.

Rules, as for the other pages: the app runs exactly the command it shows, and every check
the CLI makes before its work runs in the page first (:func:`check`: the CLI's own
functions, its messages). Simulated customers are the draft's scenario (written as
``config/scenario/app.yaml`` in the run's folder, with the draft's offers) with the signal
strengths set on the page as ``--set scenario.signals.FAMILY=VALUE`` (only those that differ
from the scenario's). A company's log is checked as a file before anything is saved
(:func:`upload_problem`), then saved into the run's folder and scored with the model an
earlier run of the page fitted, read with that run's scenario and offers (its ``config/``
copied: the model's features are that scenario's).

The words (column names, status words, the answer's sentences, the glossary) are
``experiments.scores.words``'s, which ``winback score``'s report uses too; the results
read back hold a chance blank where it does not apply already (``scores.parquet``).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.app.comparison import Spec, shown, write_config
from experiments.files import table_columns
from experiments.scores.report import measured_answer
from experiments.scores.words import (
    CHANCES,
    COLUMNS,
    METHODS,
    REASONS,
    glossary,
    segments_in_words,
    source_words,
    who_words,
)
from sim.offers import Catalogue
from sim.scenario import Scenario

RESULTS = "results"
"""The results folder (``--out``) inside a run's folder."""
MODEL = "scores.skops"
LOG_SUFFIXES = (".csv", ".parquet")
LOG_COLUMNS = ("user_id", "timestamp", "event_type", "amount")
"""An event log's required columns (``sim.calibration.eventlog.REQUIRED``)."""
ALLOWED = (
    "allowed: an event log (.csv or .parquet), one row per event with the columns "
    f"{', '.join(LOG_COLUMNS)} (and plan, price, reason where they apply), as winback "
    "calibrate reads"
)
SIGNALS = {
    "price": "Price (pricing-page views, failed payments)",
    "content": "Content (titles of their taste watched through)",
    "discovery": "Discovery (searches and titles given up on)",
    "technical": "Technical (app errors, failed sign-ins)",
}
"""The behaviour that shows each reason for leaving (``sim.scenario.Signals``)."""
PREVIEW = (
    "user_id",
    "status",
    "p_lapse_90",
    "p_lapse_30",
    "p_cancel_90",
    "reason",
    "value_12m",
)
PREVIEW_ROWS = 1_000


# ------------------------------------------------------------------ the log
def upload_problem(name: str, data: bytes) -> str | None:
    """What is wrong with an uploaded event log as a file (None: the CLI may read it)."""
    suffix = Path(name).suffix.lower()
    if suffix not in LOG_SUFFIXES:
        kind = f"a {suffix} file" if suffix else "a file without a suffix"
        return f"{name}: {kind}; {ALLOWED}"
    if not data:
        return f"{name}: the file is empty; {ALLOWED}"
    try:
        columns = table_columns(data, suffix)
    except Exception as err:  # any reader's error: the file is not of its kind
        what = "a Parquet file" if suffix == ".parquet" else "a CSV table"
        return f"{name}: not readable as {what} ({type(err).__name__}); {ALLOWED}"
    missing = [c for c in LOG_COLUMNS if c not in columns]
    if missing:
        return f"{name}: not an event log: it has no column {', '.join(missing)}; {ALLOWED}"
    return None


# ------------------------------------------------------------------ the command
@dataclass(frozen=True, kw_only=True)
class Request:
    """What the page asks ``winback score`` for: simulated customers of ``scenario`` (the
    draft's, with ``signals``), or the customers of ``log`` scored with the model of the
    earlier run ``model_run`` (its folder)."""

    scenario: Scenario | None = None
    preset: str = "streaming"
    catalogue: Catalogue | None = None
    signals: dict[str, float] = field(default_factory=dict)
    users: int = 20_000
    train_users: int = 20_000
    log: Path | None = None
    model_run: Path | None = None
    skip_bad_rows: bool = False
    as_of: date | None = None  # the log's customers as they stood that day (None: after its last)


def signal_sets(scenario: Scenario, signals: dict[str, float]) -> list[str]:
    """``--set`` overrides for the strengths that differ from ``scenario``'s."""
    base = scenario.signals.strengths()
    out = []
    for name, value in signals.items():
        if name not in base:
            raise ValueError(f"signals: {name!r}; allowed: {', '.join(base)}")
        if not math.isclose(float(value), base[name], abs_tol=1e-9):
            out += ["--set", f"scenario.signals.{name}={float(value):g}"]
    return out


def score_argv(req: Request, folder: Path) -> list[str]:
    """The ``winback score`` arguments; the run's config written into ``folder/config``."""
    conf = folder / "config"
    results = ["--out", shown(folder / RESULTS)]
    if req.log is not None:
        if req.model_run is None:
            raise ValueError("--model: none chosen; allowed: a model fitted in an earlier run")
        model = req.model_run / RESULTS / MODEL
        if (req.model_run / "config").is_dir():
            shutil.copytree(req.model_run / "config", conf, dirs_exist_ok=True)
        offers = "app" if (conf / "offers" / "app.yaml").exists() else "streaming"
        args = ["score", "--log", shown(req.log), "--model", shown(model)]
        args += ["--scenario", "app", "--offers", offers, "--config-dir", shown(conf)]
        if req.skip_bad_rows:
            args.append("--skip-bad-rows")
        if req.as_of is not None:
            args += ["--as-of", req.as_of.isoformat()]
        return [*args, *results]
    if req.scenario is None or req.catalogue is None:
        raise ValueError("scenario: the draft has problems (above); allowed: a draft without")
    spec = Spec(scenario=req.scenario, preset=req.preset, catalogue=req.catalogue, policies=())
    write_config(spec, folder)
    args = ["score", "--scenario", "app", "--config-dir", shown(conf), "--offers", "app"]
    args += signal_sets(req.scenario, req.signals)
    args += ["--users", str(req.users), "--train-users", str(req.train_users)]
    return [*args, *results]


def check(req: Request, folder: Path) -> list[str]:
    """The arguments after every check ``winback score`` makes before its work (the
    numbers, the scenario with its overrides, the model file): ValueError with the CLI's
    message."""
    from agents.scores import ChurnScores
    from experiments.cli.parsers import build_parser
    from experiments.jobs.score import scenario_of
    from sim.validation import check_int

    folder.mkdir(parents=True, exist_ok=True)
    argv = score_argv(req, folder)
    args = build_parser("score").parse_args(argv)
    check_int("--users", args.users, 1_000, 10_000_000)
    check_int("--train-users", args.train_users, 1_000, 10_000_000)
    if args.model is not None:
        ChurnScores.load(args.model)
    scenario_of(args)
    return argv


def model_runs(finished: list[Path]) -> list[Path]:
    """Of the run folders ``finished``, those that fitted a model on simulated customers."""
    return [f for f in finished if (f / RESULTS / MODEL).is_file() and (f / "config").is_dir()]


def run_label(argv: tuple[str, ...] | list[str], started: str) -> str:
    """A run in the page's list: when, and whose customers."""
    when = started[:19].replace("T", " ")
    argv = list(argv)
    if "--log" in argv:
        as_of = f" as of {argv[argv.index('--as-of') + 1]}" if "--as-of" in argv else ""
        return f"{when}: your log {Path(argv[argv.index('--log') + 1]).name}{as_of}"
    users = int(argv[argv.index("--users") + 1]) if "--users" in argv else 0
    sets = [a.removeprefix("scenario.signals.") for a in argv if a.startswith("scenario.signals")]
    signals = f" (signals {', '.join(sets)})" if sets else ""
    return f"{when}: {users:,} simulated customers{signals}"


# ------------------------------------------------------------------ the results
def summary_of(folder: Path) -> dict[str, Any] | None:
    """A results folder's ``summary.json`` (None until the run has written its report:
    its last file)."""
    if not (folder / "report.html").exists() or not (folder / "summary.json").exists():
        return None
    return dict(json.loads((folder / "summary.json").read_text()))


def segment_customers(folder: Path, segment: str) -> pd.DataFrame:
    """The rows of ``scores.parquet`` in ``segment``, most valuable first."""
    table = pd.read_parquet(folder / "scores.parquet")
    part = table[table.segment == segment]
    return part.sort_values("value_12m", ascending=False, kind="stable").reset_index(drop=True)


def in_words(table: pd.DataFrame, percent: bool = False) -> pd.DataFrame:
    """Rows of ``scores.parquet`` for a strategist, columns named in words (``COLUMNS``;
    the table holds the status in words and a chance blank where it does not apply
    already); ``percent``: chances in % and money rounded, for the page."""
    out = table.copy()
    names = dict(COLUMNS)
    if percent:
        for name in out.columns:
            if name.startswith("p_"):
                out[name] = (100 * out[name]).round(1)
                names[name] = f"{COLUMNS.get(name, name)} (%)"
        if "value_12m" in out:
            out["value_12m"] = out["value_12m"].round(2)
    return out.rename(columns=names)


def column_settings(frame: pd.DataFrame) -> dict[str, Any]:
    """The page's column settings: each chance (in %) as a bar, empty where it does not
    apply (a number column would say "None"); money to the cent."""
    import streamlit as st

    out: dict[str, Any] = {}
    for c in frame.columns:
        if "chance" in c and c.endswith("(%)"):
            out[c] = st.column_config.ProgressColumn(c, min_value=0, max_value=100, format="%.1f%%")
        elif "value over" in c:
            out[c] = st.column_config.NumberColumn(c, format="%.2f")
    return out


def segment_csv(folder: Path, segment: str) -> bytes:
    """The download: every customer of ``segment`` with every score (``in_words``)."""
    return in_words(segment_customers(folder, segment)).to_csv(index=False).encode()


def file_name(segment: str) -> str:
    return "customers-" + re.sub(r"[^A-Za-z0-9]+", "-", segment).strip("-") + ".csv"


PREDICTED, HAPPENED = "predicted chance (%)", "share who did (%)"
NAMED = "share named right (%)"


def calibration_data(folder: Path) -> dict[str, pd.DataFrame]:
    """Each risk's calibration curves (``curves.csv``) in words, by the risk's words."""
    path = folder / "curves.csv"
    if not path.exists():
        return {}
    curves = pd.read_csv(path)
    out = {}
    for risk, words in CHANCES.items():
        part = curves[curves.score == risk]
        if not part.empty:
            out[words] = pd.DataFrame(
                {
                    "rule": part.method.map(lambda m: METHODS.get(m, m)).to_numpy(),
                    PREDICTED: (100 * part.predicted).round(1).to_numpy(),
                    HAPPENED: (100 * part.observed).round(1).to_numpy(),
                    "customers": part.customers.to_numpy(),
                }
            )
    return out


def reason_data(summary: dict[str, Any]) -> pd.DataFrame:
    """The share of each real reason named right, by the model and the exit survey."""
    rows = [
        {
            "reason": REASONS.get(r["metric"][7:], r["metric"][7:]),
            "by": METHODS.get(r["method"], r["method"]),
            NAMED: round(100 * float(r["value"]), 1),
        }
        for r in summary.get("metrics") or []
        if r["score"] == "reason" and r["metric"].startswith("recall_") and r["value"] is not None
    ]
    return pd.DataFrame(rows, columns=["reason", "by", NAMED])


def calibration_chart(data: pd.DataFrame) -> Any:
    import altair as alt

    percent = alt.Scale(domain=[0, 100])
    diagonal = (
        alt.Chart(pd.DataFrame({PREDICTED: [0, 100], HAPPENED: [0, 100]}))
        .mark_line(strokeDash=[4, 4], color="#999999")
        .encode(x=alt.X(f"{PREDICTED}:Q", scale=percent), y=alt.Y(f"{HAPPENED}:Q", scale=percent))
    )
    curves = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{PREDICTED}:Q", scale=percent),
            y=alt.Y(f"{HAPPENED}:Q", scale=percent),
            color=alt.Color("rule:N", title=None, sort=list(METHODS.values())),
            tooltip=["rule", PREDICTED, HAPPENED, "customers"],
        )
    )
    return (diagonal + curves).properties(height=360)


def reason_chart(data: pd.DataFrame) -> Any:
    import altair as alt

    order = list(dict.fromkeys(data.reason))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("reason:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("by:N"),
            y=alt.Y(f"{NAMED}:Q", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("by:N", title=None),
            tooltip=["reason", "by", NAMED],
        )
        .properties(height=320)
    )


def how_to_read() -> str:
    """The glossary (``experiments.scores.words.glossary``) as a markdown list."""
    return "\n".join(f"- **{term}**: {text}" for term, text in glossary())


def show(folder: Path, key: str) -> None:
    """A ``winback score`` results folder as the page shows it."""
    import streamlit as st

    from experiments.app import ui

    summary = summary_of(folder)
    if summary is None:
        st.info("No results in this folder yet (its report is written last).")
        return
    st.subheader("The answer")
    st.markdown(who_words(summary))
    lead, lines = measured_answer(summary)
    if lines:
        st.markdown(lead)
    for line in lines:
        st.markdown(f"- {line}")
    st.caption(source_words(summary))
    for note in summary.get("notes") or []:
        st.warning(note)
    with st.expander("How to read this"):
        st.markdown(how_to_read())

    st.subheader("Segments: value x risk x reason")
    table = segments_in_words(summary["segments"])
    st.caption(
        "Largest first. Mean value: over the next 12 months, per customer. No chance of "
        "stopping for customers who have stopped visiting or cancelled already."
    )
    st.dataframe(
        table, hide_index=True, column_config=column_settings(table), key=f"segments-{key}"
    )
    names = list(table.segment)
    counts = dict(zip(table.segment, table.customers, strict=True))
    pick = st.selectbox(
        "A segment's customers",
        names,
        format_func=lambda s: f"{s} ({counts[s]:,} customers)",
        key=f"segment-{key}",
    )
    if pick is not None:
        customers = segment_customers(folder, pick)
        shown_rows = customers[[c for c in PREVIEW if c in customers]].head(PREVIEW_ROWS)
        more = (
            f" (the first {PREVIEW_ROWS:,} of {len(customers):,})"
            if len(customers) > len(shown_rows)
            else ""
        )
        st.caption(
            f"{pick}: {len(customers):,} customers{more}, most valuable first. The download has "
            "every customer of the segment with every score (a chance left blank where it does "
            "not apply: stopping, for those who have stopped visiting or cancelled already)."
        )
        preview = in_words(shown_rows, percent=True).dropna(axis="columns", how="all")
        st.dataframe(
            preview, hide_index=True, column_config=column_settings(preview), key=f"customers-{key}"
        )
        st.download_button(
            "Download this segment's customers (CSV)",
            segment_csv(folder, pick),
            file_name=file_name(pick),
            mime="text/csv",
            key=f"download-{key}",
        )

    charts = calibration_data(folder)
    if charts:
        st.subheader("Can the chances be taken at face value?")
        st.caption(
            "Customers grouped by their predicted chance (across) against the share of them "
            "who did stop or cancel (up), for the model and the rules it is compared with. On "
            "the dashed line, a 30% chance means 3 in 10."
        )
        for tab, (words, data) in zip(st.tabs(list(charts)), charts.items(), strict=True):
            with tab:
                st.altair_chart(calibration_chart(data), key=f"calibration-{words}-{key}")
    reasons = reason_data(summary)
    if not reasons.empty:
        st.subheader("Is the reason named right?")
        st.caption(
            "For each real reason, the share of those customers whose reason was named right: "
            "by the model, and by the exit survey alone (its answer where there is one, else "
            "the commonest reason)."
        )
        st.altair_chart(reason_chart(reasons), key=f"reasons-{key}")
    ui.show_report(folder, key)
