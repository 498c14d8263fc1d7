"""The report's "Before you roll out" section: what full information would earn, whether the
winner survives a wrong model, and the live test that would confirm it, in plain words.

:func:`rollout` reads a ``winback benchmark`` results folder and, where they exist, a
``winback stress`` results folder and a ``winback plan`` folder (given, or found in the
benchmark folder as ``stress/`` and ``plan/``), and returns what the section says as JSON
(``winback report FOLDER --json`` prints it; the report writes it to ``rollout.json``). A
folder given that holds no such results is an error naming the flag, before anything is
written; a part not run is said, with the command that runs it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from experiments.config.plan import NOTHING
from experiments.files import read_json
from experiments.reporting.kit import img, money

STRESS_FILES = ("summary.json", "robustness.csv", "rank_stability.png")
PLAN_FILES = ("plan.json",)


def folders(folder: Path, stress: Path | None, plan: Path | None) -> tuple[Path | None, ...]:
    """The stress and plan folders to read: those given (each must hold its results), else
    ``stress/`` and ``plan/`` in the benchmark folder when they hold them, else None."""
    out: list[Path | None] = []
    for flag, given, files, command in (
        ("--stress", stress, STRESS_FILES, "winback stress"),
        ("--plan", plan, PLAN_FILES, "winback plan"),
    ):
        if given is not None:
            missing = [f for f in files if not (Path(given) / f).is_file()]
            if missing:
                raise ValueError(
                    f"{flag}: {str(given)!r} lacks {', '.join(missing)}; allowed: a folder "
                    f"written by {command}"
                )
            out.append(Path(given))
            continue
        inside = folder / flag.lstrip("-")
        out.append(inside if all((inside / f).is_file() for f in files) else None)
    return tuple(out)


def rollout(folder: Path, stress: Path | None = None, plan: Path | None = None) -> dict[str, Any]:
    """What "Before you roll out" says, from the benchmark in ``folder`` and the stress and
    plan folders (:func:`folders`)."""
    folder = Path(folder)
    summary = read_json(folder / "summary.json", "a summary.json written by winback benchmark")
    stress_dir, plan_dir = folders(folder, stress, plan)
    out: dict[str, Any] = {
        "benchmark": str(folder),
        "reference": reference_part(summary),
        "robustness": None,
        "plan": None,
        "missing": [],
        "notes": [],
    }
    if stress_dir is None:
        out["missing"].append(
            "robustness: run `winback stress` with the benchmark's scenario and agents into "
            f"{folder / 'stress'} (hydra.run.dir=...), or pass --stress FOLDER"
        )
    else:
        out["robustness"] = robustness_part(stress_dir)
    if plan_dir is None:
        out["missing"].append(
            f"test plan: run `winback plan --out {folder / 'plan'} plan.policy=<the policy>` "
            "with the benchmark's scenario, or pass --plan FOLDER"
        )
    else:
        out["plan"] = plan_part(plan_dir)
    out["notes"] = mismatches(summary, out)
    out["verdict"] = verdict(summary, out)
    return out


def hidden(summary: dict[str, Any], agent: str) -> bool:
    """Whether ``agent`` sees what no real policy can (a reference; in results written before
    summaries flagged it, the reference was named oracle)."""
    return bool(summary["agents"][agent].get("hidden", agent == "oracle"))


def runnable(summary: dict[str, Any]) -> list[str]:
    """The benchmark's policies a company could run (not the references), best first."""
    agents = summary["agents"]
    return [a for a in sorted(agents, key=lambda a: agents[a]["rank"]) if not hidden(summary, a)]


def reference_part(summary: dict[str, Any]) -> dict[str, Any]:
    """The reference, its estimation error, every runnable policy's share of it, and the
    best learned policy's."""
    agents = summary["agents"]
    ref = summary.get("reference")
    part: dict[str, Any] = {"reference": ref}
    if not ref or ref not in agents:
        return part
    profit = agents[ref]["incremental_profit"]
    part["incremental_profit"] = profit
    part["diagnostics"] = agents[ref].get("diagnostics", {})
    part["shares"] = {a: agents[a]["share_of_reference"] for a in runnable(summary)}
    best = summary.get("best_learned")
    part["best_learned"] = best
    if best:
        part["best_learned_share"] = agents[best]["share_of_reference"]
        part["left_between"] = profit["mean"] - agents[best]["incremental_profit"]["mean"]
    return part


def robustness_part(folder: Path) -> dict[str, Any]:
    s = read_json(folder / "summary.json", "a summary.json written by winback stress")
    if "robustness" not in s:
        raise ValueError(
            f"--stress: {str(folder)!r} holds a summary.json of another command; allowed: a "
            "folder written by winback stress"
        )
    keep = (
        "agent", "candidate", "mean", "p10", "worst", "nominal", "share_best", "share_within",
        "worst_regret", "share_losing",
    )  # fmt: skip
    return {
        "folder": str(folder),
        "scenario": s.get("scenario"),
        "users": s.get("users"),
        "days": s.get("days"),
        "worlds": s.get("worlds"),
        "within": s.get("within"),
        "robust_choice": s.get("robust_choice"),
        "recommendation": s.get("recommendation"),
        "rule": s.get("rule"),
        "table": [{k: row.get(k) for k in keep} for row in s["robustness"]],
        "plot": str(folder / "rank_stability.png"),
    }


def plan_part(folder: Path) -> dict[str, Any]:
    from experiments.jobs.plan import summary_lines

    p = read_json(folder / "plan.json", "a plan.json written by winback plan")
    if "per_arm" not in p or "policy" not in p:
        raise ValueError(
            f"--plan: {str(folder)!r} holds a plan.json without its policy or size; allowed: "
            "a folder written by winback plan"
        )
    keep = (
        "policy", "against", "metric", "power", "alpha", "per_arm", "per_arm_with_cuped",
        "weeks_to_enrol", "follow_days", "holdout_cost", "effect", "guardrails",
    )  # fmt: skip
    return {
        "folder": str(folder),
        **{k: p.get(k) for k in keep},
        "validation": p.get("validation"),
        "in_words": summary_lines(p),
    }


def mismatches(summary: dict[str, Any], part: dict[str, Any]) -> list[str]:
    """Where the stress run describes another world than the benchmark's (said, not refused:
    a team may stress a smaller population on purpose)."""
    notes = []
    stress = part["robustness"]
    if stress is not None:
        for key in ("scenario", "users", "days"):
            if stress.get(key) is not None and stress[key] != summary.get(key):
                notes.append(
                    f"The robustness run's {key} ({stress[key]}) differs from the benchmark's "
                    f"({summary.get(key)})."
                )
    plan = part["plan"]
    if plan is not None and plan["policy"] not in summary["agents"]:
        notes.append(f"The test plan is for {plan['policy']}, which the benchmark did not run.")
    return notes


def verdict(summary: dict[str, Any], part: dict[str, Any]) -> list[str]:
    """The section's plain words: which policy, how sure, how big a test."""
    agents = summary["agents"]
    ranked = runnable(summary)
    out: list[str] = []
    if not ranked:
        return ["The benchmark ran no policy a company could run (only references)."]
    top = ranked[0]
    profit = agents[top]["incremental_profit"]
    if profit["mean"] <= 0:
        out.append("No policy a company could run earned more than doing nothing.")
    else:
        out.append(
            f"In the simulated world, {top} earns the most of the policies you could run: "
            f"{_ci(profit)} beyond doing nothing"
            + (
                f", {agents[top]['share_of_reference']:.0%} of what {yardstick_words(summary)} "
                "earns."
                if agents[top].get("share_of_reference") is not None
                else "."
            )
        )
    current = summary.get("baseline") or ("playbook" if "playbook" in agents else None)
    if current and current != top and current in ranked:
        mine = agents[current]["incremental_profit"]
        out.append(
            f"What you run today, {current}, earns {_ci(mine)}"
            + (" (it loses money)" if (mine.get("ci_high") or 0) < 0 else "")
            + f"; `baseline={current}` in the benchmark adds every policy's paired difference "
            "from it."
        )
    stress = part["robustness"]
    if stress is not None:
        choice, n = stress["robust_choice"], stress["worlds"]
        row = next((r for r in stress["table"] if r["agent"] == choice), None)
        how = (
            ""
            if row is None
            else f" (10th percentile across worlds {money(row['p10'])}; best or within "
            f"{stress.get('within') or 0.05:.0%} of the best in {row['share_within']:.0%} of "
            f"them; loses money in {row['share_losing']:.0%})"
        )
        if choice == NOTHING:
            out.append(
                f"But across {n} plausible worlds (the response model varied) no policy's 10th "
                "percentile beats sending nothing: do not roll one out on this evidence."
            )
        elif choice == top:
            out.append(f"It is also the robust choice across {n} plausible worlds{how}.")
        elif choice:
            out.append(
                f"But across {n} plausible worlds the robust choice is {choice}{how}: prefer it "
                "if you doubt the response model."
            )
    plan = part["plan"]
    if plan is not None:
        if plan["per_arm"] is None:
            out.append(f"The plan for {plan['policy']} found no effect to test for.")
        else:
            weeks = plan["weeks_to_enrol"]
            if weeks is None:
                when = "more weeks of enrolment than the simulation saw"
            elif weeks < 1:
                when = "enough customers lapsed at the start to enrol at once"
            else:
                when = f"about {weeks:,.0f} weeks of enrolment" + (
                    " (over two years: not a test to run at this flow)" if weeks > 104 else ""
                )
            metric = (
                "incremental profit per customer"
                if plan["metric"] == "profit"
                else "the share of customers who come back (profit is a guardrail there)"
            )
            out.append(
                f"To confirm {plan['policy']} against {plan['against']} live on {metric}: "
                f"{plan['per_arm']:,} customers per arm ({plan['per_arm_with_cuped']:,} with "
                f"CUPED), {when}, then {plan['follow_days']} days of follow-up, for "
                f"{plan['power']:.0%} power at alpha {plan['alpha']}."
            )
        pick = stress["robust_choice"] if stress is not None else top
        if pick and pick != NOTHING and plan["policy"] != pick:
            out.append(
                f"The plan is for {plan['policy']}, not {pick}: to size {pick}'s test run "
                f"`winback plan plan.policy={pick}`."
            )
    return out


def section_html(part: dict[str, Any]) -> list[str]:
    """The section's HTML."""
    e = html.escape
    body = ["<h2>Before you roll out</h2>"]
    body += [f'<div class="finding">{e(v)}</div>' for v in part["verdict"]]
    body += [f"<p><b>Note:</b> {e(n)}</p>" for n in part["notes"]]
    ref = part["reference"]
    if ref.get("shares") and all(v is None for v in ref["shares"].values()):
        body.append(f"<h3>What {e(yardstick_words(part))} would earn</h3>")
        body.append(
            f"<p>{e(str(ref['reference']))}'s own gain is within noise here (its 95% interval "
            "reaches zero): no shares of it mean anything at this size.</p>"
        )
    elif ref.get("shares"):
        body.append(f"<h3>What {e(yardstick_words(part))} would earn</h3>")
        rows = "".join(
            f"<tr><td></td><td>{e(a)}</td><td>{'-' if s is None else f'{s:.0%}'}</td></tr>"
            for a, s in ref["shares"].items()
        )
        body.append(
            f"<table><tr><th></th><th>policy</th><th>share of {e(ref['reference'])}</th></tr>"
            f"{rows}</table>"
        )
    stress = part["robustness"]
    if stress is not None:
        body.append("<h3>If the response model is wrong</h3>")
        body.append(
            f"<p>{e(str(stress['recommendation']))} Rule: {e(str(stress['rule']))}.</p>"
            + robustness_table(stress)
        )
        plot = Path(stress["plot"])
        if plot.is_file():
            body.append(img(plot))
    plan = part["plan"]
    if plan is not None:
        body.append("<h3>The live test</h3>")
        body.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in plan["in_words"]) + "</ul>")
    if part["missing"]:
        body.append("<h3>Not run yet</h3>")
        body.append("<ul>" + "".join(f"<li>{e(m)}</li>" for m in part["missing"]) + "</ul>")
    return body


def _ci(d: dict[str, Any]) -> str:
    """A mean with its 95% interval (one seed: none)."""
    if d.get("ci_low") is None:
        return f"{money(d['mean'])} (one seed: no interval)"
    return f"{money(d['mean'])} (95% CI {money(d['ci_low'])} to {money(d['ci_high'])})"


def yardstick_words(summary: dict[str, Any]) -> str:
    """The reference in a heading's words: full information, or the rule that reads the
    hidden pain point, or the agent named as the reference."""
    ref = summary.get("reference")
    ref = ref.get("reference") if isinstance(ref, dict) else ref
    return {
        "full_information": "full information",
        "pain_point_rule": "the rule that reads each customer's hidden reason",
    }.get(str(ref), str(ref))


REFERENCE_WORDS = {
    "full_information": "at each decision it looks ahead inside the simulation, knowing each "
    "customer's hidden state; no real policy can",
    "pain_point_rule": "a rule that reads each customer's hidden pain point and sends the "
    "matching offer; no real policy can see it",
}
"""What each reference is, in the report's words."""


def reference_words(ref: dict[str, Any]) -> str:
    """The reference part in one paragraph."""
    p = ref["incremental_profit"]
    what = REFERENCE_WORDS.get(ref["reference"], "the yardstick this run names (reference=)")
    words = f"The reference, {ref['reference']}, earned {_ci(p)}: {what}."
    predicted = ref.get("diagnostics", {}).get("predicted_gain")
    if predicted:
        words += (
            f" Its look-ahead predicted {money(predicted['mean'])}: the difference is its "
            "estimation error and what a one-step look-ahead misses."
        )
    if ref.get("best_learned_share") is not None:
        words += (
            f" The best learned policy, {ref['best_learned']}, reached "
            f"{ref['best_learned_share']:.0%} of it ({ref['left_between']:+,.0f} left between)."
        )
    return words


def robustness_table(stress: dict[str, Any]) -> str:
    e = html.escape
    within = stress.get("within") or 0.05
    head = (
        "<tr><th>#</th><th>policy</th><th>mean</th><th>10th percentile</th><th>worst</th>"
        f"<th>best in</th><th>within {within:.0%} in</th><th>worst regret</th>"
        "<th>loses money in</th></tr>"
    )
    rows = []
    for i, r in enumerate(stress["table"], start=1):
        name = e(str(r["agent"])) + ("" if r["candidate"] else " (reference)")
        cls = "" if r["candidate"] else ' class="reference"'
        rows.append(
            f"<tr{cls}><td>{i}</td><td>{name}</td><td>{r['mean']:+,.0f}</td>"
            f"<td>{r['p10']:+,.0f}</td><td>{r['worst']:+,.0f}</td>"
            f"<td>{r['share_best']:.0%}</td><td>{r['share_within']:.0%}</td>"
            f"<td>{r['worst_regret']:,.0f}</td><td>{r['share_losing']:.0%}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"
