"""The churn scores in a strategist's words: one source for ``winback score``'s report
(``experiments.scores.report``) and the app's page (``experiments.app.scores_run``).

The sentences are markdown (``**bold**``, ```code```): the page shows them as they are, the
report turns them into HTML. Every sentence reads a run's ``summary.json`` (as a dict), so
the page can read a finished run back and the report says the same of a run in progress.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from sim.constants import PAIN_POINTS

STATUS = ("active", "lapsed", "cancelled")
"""Each observed status, by its code (``sim.constants``: ``ACTIVE``, ``DORMANT``,
``CHURNED``), in the segments' words: a customer the company sees as inactive (no visit for
the scenario's ``inactive_after_days``) has lapsed."""
COLUMNS = {
    "user_id": "customer id",
    "status": "status now",
    "p_lapse_30": "chance of stopping within 30 days",
    "p_lapse_90": "chance of stopping within 90 days",
    "p_cancel_90": "chance of cancelling within 90 days",
    "p_reason_price": "chance the reason is price",
    "p_reason_content": "chance the reason is content",
    "p_reason_discovery": "chance the reason is discovery",
    "p_reason_technical": "chance the reason is technical",
    "p_reason_none": "chance of no particular reason",
    "reason": "likeliest reason",
    "value_12m": "value over the next 12 months",
    "value_tier": "value",
    "risk_tier": "risk",
    "segment": "segment",
    "true_lapse_30": "stopped within 30 days (what happened)",
    "true_lapse_90": "stopped within 90 days (what happened)",
    "true_cancel_90": "cancelled within 90 days (what happened)",
    "true_reason": "real reason (what happened)",
    "true_value": "value over 12 months (what happened)",
}
"""``scores.parquet``'s columns in words."""
SEGMENT_COLUMNS = {
    "segment": "segment",
    "customers": "customers",
    "share": "share (%)",
    "mean_value_12m": "mean value over 12 months",
    "mean_p_lapse_90": "mean chance of stopping within 90 days (%)",
    "reason_precision": "reason named right (%)",
    "playbook_offer": "the playbook's offer",
}
"""``segments.csv``'s columns in words, in the order shown (the tiers are in the name)."""
RISKS = {
    "lapse_90": "stop visiting within 90 days",
    "lapse_30": "stop visiting within 30 days",
    "cancel_90": "cancel within 90 days",
}
"""The risk scores, in the answer's order and words."""
CHANCES = {
    "lapse_90": "Stopping within 90 days",
    "lapse_30": "Stopping within 30 days",
    "cancel_90": "Cancelling within 90 days",
}
"""The risk scores as titles (the calibration charts)."""
METHODS = {
    "model": "the model",
    "recency": "days since the last visit",
    "bgnbd": "the textbook repeat-visit model",
    "survey": "the exit survey alone",
    "run_rate": "spending so far as a yearly run rate",
}
"""The methods of ``metrics.csv`` and ``curves.csv``, in words."""
REASONS = {"none": "no particular reason"}
"""Pain points whose name is not a word on its own."""
CLOSE = 0.01  # AUCs this close are "about as well as"


def glossary() -> tuple[tuple[str, str], ...]:
    """How to read the results: (term, what it means), markdown."""
    from agents.reference import Playbook

    days = Playbook().min_recency_days
    return (
        (
            "Chance of stopping within 30 or 90 days",
            "for a customer who visits now, the chance that the company sees them as lapsed (no "
            "visit for the set number of days) or cancelled that many days on. Blank for a "
            "customer who has stopped visiting or cancelled already.",
        ),
        (
            "Chance of cancelling within 90 days",
            "for a subscriber who has not cancelled. Blank for one who has.",
        ),
        (
            "AUC",
            "take one customer who went on to leave and one who stayed: the share of such pairs "
            "the score puts in the right order. 0.5 is a coin toss, 1 perfect. *Days since the "
            "last visit* is the rule most companies use; *the textbook repeat-visit model* "
            "(BG/NBD) estimates from visits alone whether a customer is still a customer.",
        ),
        (
            "Why they leave",
            "the likeliest of price, content, discovery (not finding things), technical and "
            "none, read from behaviour; most customers answer no exit survey.",
        ),
        (
            "Reason named right",
            "of a segment's customers, the share whose real reason is the one it is named by "
            "(simulated customers only: their real reason is known).",
        ),
        (
            "The playbook's offer",
            "what the seeds' rule book sends for the segment's reason, once a customer has not "
            f"visited for {days:g} days (it sends customers who still visit nothing). An offer "
            "not among the run's offers is said so: the rule book is written for the "
            "streaming catalogue.",
        ),
        (
            "Value over the next 12 months",
            "what the customer is expected to bring in, less what serving them costs, with no "
            "offers.",
        ),
        (
            "Segments",
            "value (top fifth high, bottom two fifths low) x risk (high from one chance in three "
            "of stopping within 90 days, low under one in seven; customers who have stopped "
            "visiting or cancelled as such) x the likeliest reason.",
        ),
        (
            "Simulated customers",
            "every figure is measured on customers the model never saw, against what really "
            "happened to them in the simulation.",
        ),
    )


def reason_words(reason: str) -> str:
    return REASONS.get(reason, reason)


def figure(summary: dict[str, Any], score: str, method: str, metric: str) -> float:
    """One figure of ``summary['metrics']`` (NaN when absent or null)."""
    for row in summary.get("metrics") or []:
        if (row["score"], row["method"], row["metric"]) == (score, method, metric):
            value = row["value"]
            return float("nan") if value is None else float(value)
    return float("nan")


def compared(model: float, baseline: float) -> str:
    if model >= baseline + CLOSE:
        return "better than"
    if model <= baseline - CLOSE:
        return "worse than"
    return "about as well as"


def explains(r2: float) -> str:
    """An R^2 in words: the share of the differences between customers a prediction
    explains; below 0 (a prediction further off than the average of all), worse than
    guessing the average for everyone."""
    if r2 < 0:
        return "does worse than guessing the average for everyone"
    return f"explains {r2:.0%} of the differences between customers"


def who_words(summary: dict[str, Any]) -> str:
    """How many customers are about to leave, and how many have left already (markdown)."""
    segments = pd.DataFrame(summary["segments"])
    n = int(summary["customers"])
    by_risk = segments.groupby("risk_tier")["customers"].sum()
    high, lapsed, cancelled = (int(by_risk.get(t, 0)) for t in ("high", "lapsed", "cancelled"))
    gone = f"{lapsed:,} have stopped visiting already" if lapsed else "none has stopped visiting"
    if cancelled:
        gone += f" and {cancelled:,} have cancelled"
    return (
        f"Of the {n:,} customers scored, **{high:,} ({high / max(n, 1):.0%}) still visit but "
        f"are likely to stop within 90 days** (a chance of one in three or more); {gone}."
    )


def answer(summary: dict[str, Any]) -> list[str]:
    """How well the scores did against what really happened, in words (markdown); none
    when the run had nothing to measure them against (a company's log). A comparison that
    could not be made is said so, not printed as a number."""
    if not summary.get("metrics"):
        return []
    out = []
    for risk, words in RISKS.items():
        model = figure(summary, risk, "model", "auc")
        recency = figure(summary, risk, "recency", "auc")
        if math.isnan(model) or math.isnan(recency):
            continue
        bgnbd = figure(summary, risk, "bgnbd", "auc")
        textbook = (
            "; the textbook repeat-visit model could not be fitted to these customers' visits"
            if math.isnan(bgnbd)
            else f"; the textbook repeat-visit model {bgnbd:.2f}"
        )
        out.append(
            f"**Who will {words}**: the model finds them {compared(model, recency)} days since "
            f"the last visit alone: AUC {model:.2f} vs {recency:.2f}{textbook}."
        )
    accuracy = figure(summary, "reason", "model", "accuracy")
    survey = figure(summary, "reason", "survey", "accuracy")
    if not math.isnan(accuracy):
        line = (
            f"**Why they leave**: it names the reason correctly for {accuracy:.0%} of "
            f"customers; the exit survey alone {survey:.0%}."
        )
        named = {p: figure(summary, "reason", "model", f"precision_{p}") for p in PAIN_POINTS}
        right = [f"{reason_words(p)} {v:.0%}" for p, v in named.items() if not math.isnan(v)]
        if right:
            line += f" When it names a reason, it is right for: {', '.join(right)}."
        out.append(line)
    r2 = figure(summary, "value", "model", "r2")
    run_rate = figure(summary, "value", "run_rate", "r2")
    top = figure(summary, "value", "model", "top_tenth_share")
    if not math.isnan(r2):
        line = f"**What they are worth**: its value over the next 12 months {explains(r2)}"
        if not math.isnan(run_rate):
            line += f"; {METHODS['run_rate']} {explains(run_rate)}"
        line += "."
        if not math.isnan(top):
            line += f" The tenth it values most bring {top:.0%} of all the value."
        out.append(line)
    return out


def source_words(summary: dict[str, Any]) -> str:
    """Whose customers were scored, by which model, as of when (markdown)."""
    if summary.get("source") == "simulated":
        strengths = ", ".join(f"{k} {v:g}" for k, v in (summary.get("signals") or {}).items())
        return (
            f"{summary['customers']:,} simulated customers of {summary['scenario']} scored; "
            f"the model learned from {summary['train_customers']:,} others of the same "
            f"business. How plainly behaviour shows each reason (0 not at all, 1 plainly): "
            f"{strengths}."
        )
    as_of = summary.get("as_of")
    when = f" as they stood on **{as_of}** (only events before that day read)" if as_of else ""
    return (
        f"{summary['customers']:,} customers of your log `{Path(summary['source']).name}` "
        f"scored{when} by the model fitted on the simulated business {summary['scenario']}: "
        "the scores are as good as that business resembles yours."
    )


def segments_in_words(segments: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
    """The segments (``segments.csv``, or ``summary['segments']``), largest first, with
    ``SEGMENT_COLUMNS``' headers: shares and chances in %, money to the cent; a chance
    blank where no customer of the segment has one (those gone already)."""
    seg = pd.DataFrame(segments)
    seg = seg.sort_values("customers", ascending=False, kind="stable").reset_index(drop=True)
    out = pd.DataFrame(index=seg.index)
    for name, words in SEGMENT_COLUMNS.items():
        if name not in seg:
            continue
        column = seg[name]
        if name in ("share", "mean_p_lapse_90", "reason_precision"):
            column = (100 * pd.to_numeric(column, errors="coerce")).round(1)
        elif name == "mean_value_12m":
            column = pd.to_numeric(column, errors="coerce").round(2)
        elif name == "customers":
            column = column.astype(int)
        out[words] = column.to_numpy()
    return out
