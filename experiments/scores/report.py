"""``winback score``'s report: the plots, the terminal summary and ``report.html``, in the
words of the app's page (``experiments.scores.words``, one source for both).

The page, for a strategist: whose customers and as of when; the answer (how many are about
to leave, how many have left; for simulated customers how well each score did against what
really happened, beside the rules a company already has; for a company's log, how well the
model did on simulated customers of the run that fitted it, when its summary is beside it);
the segments, largest first, with the playbook's offer for each reason and, for simulated
customers, how often the reason is right; the calibration and reason charts; how to read
it all; every figure.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.scores.words import (
    CHANCES,
    METHODS,
    RISKS,
    answer,
    glossary,
    reason_words,
    segments_in_words,
    source_words,
    who_words,
)


# ----------------------------------------------------------------------- plots
def plot(evaluation: Any, folder: Path) -> list[Path]:
    """Calibration curves of the risks and recall by pain point (PNG), titled in words."""
    from experiments.reporting.kit import pyplot, save
    from sim.constants import PAIN_POINTS

    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    curves = evaluation.curves
    risks = list(dict.fromkeys(curves.score))
    fig, axes = plt.subplots(1, len(risks), figsize=(4.2 * len(risks), 4), squeeze=False)
    for ax, risk in zip(axes[0], risks, strict=True):
        for method, part in curves[curves.score == risk].groupby("method", sort=False):
            words = METHODS.get(str(method), str(method))
            ax.plot(100 * part.predicted, 100 * part.observed, marker="o", label=words)
        ax.plot([0, 100], [0, 100], color="#999", lw=1, ls="--")
        ax.set(
            title=CHANCES.get(risk, risk),
            xlabel="predicted chance (%)",
            ylabel="share who did (%)",
        )
        ax.legend(fontsize=8)
    paths.append(save(fig, folder / "calibration.png"))
    m = evaluation.metrics
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.38
    for k, method in enumerate(("model", "survey")):
        rows = m[(m.score == "reason") & (m.method == method)].set_index("metric")
        recall = [100 * rows.value.get(f"recall_{p}", np.nan) for p in PAIN_POINTS]
        ax.bar(
            np.arange(len(PAIN_POINTS)) + (k - 0.5) * width, recall, width, label=METHODS[method]
        )
    ax.set_xticks(range(len(PAIN_POINTS)), [reason_words(p) for p in PAIN_POINTS])
    ax.set(
        ylabel="share named right (%)",
        ylim=(0, 100),
        title="Is the reason named right? By real reason",
    )
    ax.legend()
    paths.append(save(fig, folder / "reason.png"))
    return paths


# ----------------------------------------------------------------------- terminal
def lines(summary: dict, evaluation: Any) -> list[str]:
    """The terminal summary (a figure that could not be had is "-", not nan)."""
    out = [f"\n{summary['customers']:,} customers scored in {summary['score_seconds']} s"]
    if summary.get("as_of"):
        out.append(f"  as of {summary['as_of']}")
    out += [f"  note: {n}" for n in summary["notes"]]
    top = sorted(summary["segments"], key=lambda r: -r["customers"])[:5]
    out += [f"  {r['customers']:>9,}  {r['segment']}" for r in top]
    if evaluation is None:
        return out
    for risk in RISKS:
        model = evaluation.figure(risk, "model", "auc")
        if np.isnan(model):
            continue
        recency, bgnbd = (evaluation.figure(risk, m, "auc") for m in ("recency", "bgnbd"))
        brier = evaluation.figure(risk, "model", "brier")
        out.append(
            f"  {risk:<10} AUC {model:.3f} (recency {_number(recency)}, BG/NBD "
            f"{_number(bgnbd, 'not fitted')}); Brier {brier:.3f}"
        )
    out.append(
        f"  reason     accuracy {evaluation.figure('reason', 'model', 'accuracy'):.3f} "
        f"(exit survey alone {_number(evaluation.figure('reason', 'survey', 'accuracy'))})"
    )
    r2, run_rate = (evaluation.figure("value", m, "r2") for m in ("model", "run_rate"))
    below = "; below 0: worse than guessing the average" if r2 < 0 or run_rate < 0 else ""
    out.append(f"  value      R^2 {r2:.3f} (run rate {_number(run_rate)}{below})")
    return out


def _number(value: float, missing: str = "-") -> str:
    return missing if math.isnan(value) else f"{value:.3f}"


# ----------------------------------------------------------------------- the page
def model_summary(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The summary of the run that fitted a log run's model (``summary.json`` beside the
    model file; None: not found)."""
    path = Path(str(summary.get("model", ""))).parent / "summary.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def measured_answer(summary: dict[str, Any]) -> tuple[str, list[str]]:
    """How well the scores did (``words.answer``) and the sentence leading it in: against
    what happened to the customers scored, or, for a log (no future to measure against),
    on the simulated customers of the run that fitted its model; ("", []) if neither."""
    lines = answer(summary)
    if lines:
        return "Measured against what really happened to these customers:", lines
    fitted = model_summary(summary)
    lines = answer(fitted) if fitted else []
    lead = (
        "Your log holds no future to measure against. How well this model did on simulated "
        "customers of its own run:"
    )
    return (lead, lines) if lines else ("", [])


def html_of(markdown: str) -> str:
    """One sentence of ``experiments.scores.words`` (``**bold**``, ```code```, ``*em*``)
    as HTML, escaped."""
    text = html.escape(markdown, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    return re.sub(r"\*(.+?)\*", r"<em>\1</em>", text)


def report(summary: dict, evaluation: Any, segments: pd.DataFrame, plots: list[Path]) -> str:
    """The HTML page of the module docstring."""
    from experiments.reporting.kit import img, page

    simulated = summary.get("source") == "simulated"
    name = summary["scenario"] if simulated else Path(str(summary["source"])).name
    body = [
        f"<h1>Who is about to leave, and why: {html.escape(str(name))}</h1>",
        f"<p>{html_of(source_words(summary))}</p>",
    ]
    if not simulated:
        body.append(
            "<p>Fit the simulated business to your log first (<code>winback calibrate</code>) "
            "for scores that fit your customers.</p>"
        )
    body += [f'<p class="finding">{html.escape(n)}</p>' for n in summary["notes"]]
    body += ["<h2>The answer</h2>", f"<p>{html_of(who_words(summary))}</p>"]
    lead, measured = measured_answer(summary)
    if measured:
        body.append(f"<p>{html.escape(lead)}</p>")
        body.append("<ul>" + "".join(f"<li>{html_of(line)}</li>" for line in measured) + "</ul>")
    body += _segment_part(segments, simulated)
    if evaluation is not None and plots:
        calibration, reasons = plots
        body += [
            "<h2>Can the chances be taken at face value?</h2>",
            "<p>Customers grouped by their predicted chance (across) against the share of "
            "them who did stop or cancel (up), for the model and the rules it is compared "
            "with. On the dashed line, a 30% chance means 3 in 10.</p>",
            img(calibration),
            "<h2>Is the reason named right?</h2>",
            "<p>For each real reason, the share of those customers whose reason was named "
            "right: by the model, and by the exit survey alone (its answer where there is "
            "one, else the commonest reason).</p>",
            img(reasons),
        ]
    body.append("<h2>How to read this</h2><dl>")
    body += [f"<dt>{html_of(term)}</dt><dd>{html_of(text)}</dd>" for term, text in glossary()]
    body.append("</dl>")
    if evaluation is not None:
        body += [
            "<h2>All figures</h2>",
            "<p>As in <code>metrics.csv</code>: AUC, Brier score and the share it happened "
            "to for each risk; accuracy, recall and precision by pain point for the reason; "
            "R&sup2;, rank correlation and the top tenth's share of all value for the "
            "value. Empty: a figure that could not be had.</p>",
            _table(evaluation.metrics),
        ]
    return page(f"Who is about to leave, and why: {name}", body)


def _segment_part(segments: pd.DataFrame, simulated: bool) -> list[str]:
    from agents.reference import Playbook

    right = (
        " Reason named right: of the segment's customers, the share whose real reason it is."
        if simulated and "reason_precision" in segments
        else ""
    )
    days = Playbook().min_recency_days
    return [
        "<h2>Segments: value x risk x reason</h2>",
        f"<p>Largest first. Mean value: over the next 12 months, per customer. No chance of "
        f"stopping for customers who have stopped visiting or cancelled already.{right} The "
        f"playbook's offer: what the seeds' rule book sends for the segment's reason, once a "
        f"customer has not visited for {days:g} days.</p>",
        _table(segments_in_words(segments), {"(%)": 1, "value": 2}),
    ]


def _table(frame: pd.DataFrame, decimals: dict[str, int] | None = None) -> str:
    """``frame`` as an HTML table: numbers to 3 decimals, or to ``decimals[part]`` in a
    column whose name holds ``part``; a missing number empty."""

    def formatter(places: int) -> Any:
        return lambda v: "" if pd.isna(v) else f"{v:,.{places}f}"

    formatters = {}
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            places = next((d for part, d in (decimals or {}).items() if part in column), 3)
            formatters[column] = formatter(places)
    return frame.to_html(index=False, border=0, formatters=formatters, na_rep="")
