"""``winback ope LOG --policy NAME``: what a new policy would have earned on the decisions a
company logged, estimated from the log alone (off-policy evaluation), with the simulator's
prediction beside it.

LOG is one of: a ``.npz`` in Open Bandit Pipeline's ``bandit_feedback`` layout with the
feature and offer names (``winback ope-log`` writes one; ``experiments.ope.logged``); a
decisions table (``.csv``/``.parquet``, ``experiments.ope.events``: one row per decision); or
a company's event log in the calibration schema with a ``propensity`` on its offer rows
(read as ``winback calibrate`` reads it, each randomised send or holdout one decision).

Each policy (an agent name of ``conf/agent/`` or of ``--config-dir``, or a ``_target_``
such as ``agents.reference.Playbook``; built, and trained where it trains, on the scenario
as the benchmark builds it) is read on every logged decision. Every estimator gives its value
per decision (profit over the attribution window) with a bootstrap 95% interval, and the
difference from sending nothing on the same decisions; the diagnostics and a plain verdict
(``experiments.ope.verdict``) say whether the log supports it. ``--predict``: the scenario
simulated with the policy deciding once per lapsed customer, as the log did, its value per
decision beside the estimate (the same reading of the outcome as the log's: a simulated
event log read the same way when LOG is an event log).

Outputs in ``--out``: ``estimates.csv`` (policy x estimator: value, interval, difference
from sending nothing and its interval), ``summary.json`` (the same, the diagnostics, the
verdict, the prediction), ``plots/estimates.png`` and ``report.html``.
"""

from __future__ import annotations

import argparse
import html
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.cli.parsers import log_limits
from experiments.files import (
    check_writable,
    strict_json,
    table_columns,
    write_json,
    write_table,
    write_text,
)
from experiments.ope.estimators import ESTIMATORS
from experiments.ope.logged import Logged

EVENT_LOG_SUFFIXES = (".csv", ".parquet")
OUTCOME = {
    "npz": "the profit (as the log holds it)",
    "decisions": "the reward column (as the table holds it)",
    "events": "the money the log shows coming in, less what the send and any support contact cost",
}
SUFFIXES = (".npz", *EVENT_LOG_SUFFIXES)
NAMES = {
    "dm": "direct method",
    "ips": "inverse propensity (IPS)",
    "snips": "self-normalised IPS",
    "dr": "doubly robust",
    "sndr": "self-normalised DR",
    "switch_dr": "switch-DR",
}


def check_log_path(path: Path) -> None:
    if path.suffix not in SUFFIXES:
        raise ValueError(
            f"LOG: {str(path)!r}; allowed: a .npz (bandit_feedback), or a decisions table or "
            "event log as .csv or .parquet"
        )
    if not path.is_file():
        raise ValueError(f"LOG: {str(path)!r} does not exist; allowed: an existing file")


def policy_nodes(
    policies: list[str], catalogue: Any, agents: dict[str, dict[str, Any]], trusted: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """The policies' agent nodes: names from the composed config, ``_target_`` paths as
    nodes of their own; references that read hidden traits are refused (a log has none)."""
    from experiments.config.agents import BLANKET, expand_agents, hidden_target

    out: dict[str, dict[str, Any]] = {}
    for given in policies:
        if "." in given:
            name = given.rsplit(".", 1)[1].lower()
            out.update(expand_agents({name: {"_target_": given}}, catalogue, trusted, False))
        elif given.startswith("blanket_"):
            node = {"_target_": BLANKET, "offer": given.removeprefix("blanket_")}
            out.update(expand_agents({given: node}, catalogue, trusted, False))
        else:
            out.update(
                {
                    k: v
                    for k, v in agents.items()
                    if k == given or (given == "blanket" and k.startswith("blanket_"))
                }
            )
    for name, node in out.items():
        if hidden_target(node):
            raise ValueError(
                f"--policy: {name!r} reads what no log holds (hidden traits or a look-ahead "
                "inside the simulation); allowed: a policy a company could run"
            )
    return out


def agent_names(config_dir: Path | None) -> set[str]:
    """The agent configs ``--policy`` can name: the package's and ``--config-dir``'s."""
    import conf

    folders = [Path(conf.__file__).parent / "agent"]
    if config_dir is not None:
        folders.append(Path(config_dir) / "agent")
    return {f.stem for d in folders if d.is_dir() for f in d.glob("*.yaml")}


def compose_config(args: argparse.Namespace, out: Path) -> Any:
    """The benchmark's typed config with the scenario, offers and policies asked for."""
    from experiments.config.compose import compose
    from experiments.config.hydra_apps import benchmark_config
    from experiments.config.targets import check_module_names

    trusted = check_module_names(args.trust or [])
    named = [p for p in args.policy if "." not in p and not p.startswith("blanket_")]
    known = agent_names(args.config_dir)
    for name in named:
        if name not in known:
            raise ValueError(
                f"--policy: {name!r}; allowed: {', '.join(sorted(known))}, blanket_<offer>, "
                "or a _target_ such as my_module.MyPolicy (with --trust my_module)"
            )
    overrides = [f"scenario={args.scenario}", f"offers={args.offers}"]
    overrides.append(f"agent=[{','.join(named or ['no_offer'])}]")
    if trusted:
        overrides.append(f"trust=[{','.join(trusted)}]")
    config_dir = str(args.config_dir) if args.config_dir else None
    base = compose("benchmark", overrides, config_dir)
    bench = benchmark_config(base, out, trusted, notes=False)
    nodes = policy_nodes(args.policy, bench.catalogue, bench.agents, trusted)
    return bench, nodes


def read_log(
    path: Path,
    scenario: Any,
    catalogue: Any,
    window: int,
    skip_bad_rows: bool = False,
    limits: Any = None,
) -> tuple[Logged, str, list[str], dict[str, int]]:
    """LOG as rounds, its kind (npz, decisions, events), notes on the reading and, where
    the log tells, its customers and days (``users``, ``days``: what ``--predict``
    simulates); the log's features and offers must be the scenario's and catalogue's. An
    event log is read within ``limits`` (``sim.calibration.eventlog.Limits``; None: the
    defaults)."""
    from experiments.ope.logged import load
    from sim.envs.observation import observation_names

    names = observation_names(scenario, catalogue)
    offers = ["no_offer", *catalogue.names]
    notes: list[str] = []
    size: dict[str, int] = {}
    if path.suffix == ".npz":
        logged, kind = load(path), "npz"
        size = {k: int(logged.meta[k]) for k in ("users", "days") if k in logged.meta}
    else:
        from experiments.ope.events import decisions_from_events, logged_from_decisions

        columns = table_columns(path, path.suffix)
        if "event_type" in columns:
            from sim.calibration.eventlog import read_event_log

            limits_kw = asdict(limits) if limits is not None else {}
            log = read_event_log(path, skip_bad_rows, **limits_kw)
            table, notes = decisions_from_events(log, scenario, catalogue, window)
            notes = [*log.notes, *notes]
            kind = "events"
            span = log.end - log.window_start + 1 - scenario.warmup_days
            size = {"users": int(log.events.user_id.nunique()), "days": max(span, 2 * window)}
        else:
            table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            kind = "decisions"
        logged = logged_from_decisions(table, offers)
    have = logged.meta.get("offers")
    if have is not None and list(have) != offers:
        raise ValueError(
            f"LOG: its actions are {', '.join(have)} but the offers (--offers) are "
            f"{', '.join(offers)}; allowed: the offers the log was written with, in order"
        )
    feats = logged.meta.get("features")
    if feats is not None and list(feats) != names:
        missing = [f for f in names if f not in feats][:5]
        raise ValueError(
            f"LOG: its {len(feats)} features are not the {len(names)} the policies read in "
            f"this scenario (missing e.g. {', '.join(missing) or 'none'}); allowed: a log "
            "written for this scenario and these offers (--scenario, --offers)"
        )
    meta = {**logged.meta, "features": names, "offers": offers}
    return replace(logged, meta=meta), kind, notes, size


def run_from_args(args: argparse.Namespace) -> int:
    from agents.reference import NoOffer
    from experiments.jobs.benchmark import build_agent
    from experiments.ope.behaviour import target_distribution
    from experiments.ope.bench import reward_model
    from experiments.ope.estimators import against, diagnostics
    from experiments.ope.verdict import reading, support_of, unsupported_actions
    from sim.validation import check_int

    start = time.perf_counter()
    check_log_path(args.log)
    if not args.policy:
        raise ValueError("--policy: none given; allowed: an agent name or a _target_, repeatable")
    check_int("--window", args.window, 1, 365)
    check_int("--boot", args.boot, 10, 100_000)
    if args.clip is not None and not args.clip > 0:
        raise ValueError(f"--clip: {args.clip!r}; allowed: a weight > 0")
    out = args.out or Path("outputs/ope") / time.strftime("%Y-%m-%d_%H-%M-%S")
    if (out / "summary.json").exists() and not args.force:
        raise ValueError(
            f"--out: {str(out)!r} holds results already; allowed: a new folder, or --force"
        )
    check_writable(out, "--out")
    bench, nodes = compose_config(args, out)
    logged, kind, notes, size = read_log(
        args.log, bench.scenario, bench.catalogue, args.window, args.skip_bad_rows, log_limits(args)
    )
    print(f"log: {logged.n_rounds:,} decisions ({kind}) from {args.log}", flush=True)
    agents = {}
    for name, node in nodes.items():
        print(f"building {name} ({node['_target_']}) in {bench.scenario.name}", flush=True)
        agents[name] = build_agent(node, bench.scenario, bench.catalogue)
    print("fitting the reward model (cross-fitted gradient boosting)", flush=True)
    q = reward_model(logged, args.seed)
    nothing = target_distribution(NoOffer(), logged)
    support = support_of(logged.logging_dist, logged.action, logged.n_actions, logged.n_rounds)
    repeated = _repeated_share(logged)
    groups = logged.user if repeated > 0 else None  # a customer's decisions resampled together
    offers = list(logged.meta["offers"])
    rows, policies = [], {}
    for name, agent in agents.items():
        pi = target_distribution(agent, logged)
        values, vs = against(
            logged,
            pi,
            nothing,
            q,
            ESTIMATORS,
            args.clip,
            boot=args.boot,
            seed=args.seed,
            groups=groups,
        )
        health = diagnostics(logged, pi, args.clip, support)
        gaps = unsupported_actions(pi, support, offers)
        verdict = reading(name, values, health, gaps, logged.n_rounds, repeated)
        for e, d in zip(values, vs, strict=True):
            rows.append(
                {
                    "policy": name,
                    "estimator": e.estimator,
                    "value": e.value,
                    "low": e.low,
                    "high": e.high,
                    "vs_nothing": d.value,
                    "vs_nothing_low": d.low,
                    "vs_nothing_high": d.high,
                }
            )
        policies[name] = {
            "target": nodes[name]["_target_"],
            "diagnostics": asdict(health),
            "unsupported_actions": gaps,
            "supported": verdict.supported,
            "verdict": verdict.headline,
            "details": verdict.details,
            "offer_mix": _mix(pi, offers),
        }
    table = pd.DataFrame(rows)
    if args.predict:
        for name, agent in agents.items():
            print(f"simulating {name} on {bench.scenario.name} (--predict)", flush=True)
            policies[name]["prediction"] = predict(agent, bench, args, kind, size)
    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out / "estimates.csv")
    summary = {
        "log": str(args.log),
        "kind": kind,
        "decisions": logged.n_rounds,
        "customers": None if logged.user is None else int(pd.unique(logged.user).size),
        "repeated_share": repeated,
        "window_days": args.window,
        "logged_mix": _mix(np.eye(logged.n_actions)[logged.action], offers),
        "logged_value": float(np.mean(logged.reward)),
        "scenario": bench.scenario.name,
        "policies": policies,
        "estimates": table.to_dict("records"),
        "notes": notes,
        "boot": args.boot,
        "clip": args.clip,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(out / "summary.json", summary)
    plot(table, policies, out / "plots" / "estimates.png")
    write_text(out / "report.html", report(summary, out))
    for line in lines(summary):
        print(line)
    print(f"\nresults: {out.resolve()}  report: {(out / 'report.html').resolve()}")
    if args.json:
        print(strict_json(summary))
    return 0


def _repeated_share(logged: Logged) -> float:
    """The share of customers with more than one decision (0 when the log has no ids)."""
    if logged.user is None:
        return 0.0
    counts = pd.Series(np.asarray(logged.user)).value_counts()
    return float((counts > 1).mean())


def _mix(dist: np.ndarray, offers: list[str]) -> dict[str, float]:
    share = np.asarray(dist).mean(axis=0)
    return {o: float(s) for o, s in zip(offers, share, strict=True) if s > 0}


def predict(
    agent: Any, bench: Any, args: argparse.Namespace, kind: str, size: dict[str, int]
) -> dict[str, Any]:
    """The simulator's value per decision of ``agent`` (and of sending nothing) deciding
    once per lapsed customer, as many customers and days as the log has where it tells
    (else the scenario's), read as the log is read."""
    from agents.evaluate import t_interval
    from agents.reference import NoOffer
    from experiments.ope.behaviour import Following

    base = bench.scenario
    days = size.get("days", base.horizon_days)
    scenario = replace(  # the calendar's events beyond the log's days dropped
        base,
        n_users=size.get("users", base.n_users),
        horizon_days=days,
        releases=tuple(r for r in base.releases if r.day < days),
        price_changes=tuple(c for c in base.price_changes if c.day < days),
    )
    sized = replace(bench, scenario=scenario)
    out: dict[str, Any] = {}
    for key, policy in (("value", agent), ("nothing", NoOffer())):
        rewards = simulated_rewards(Following(agent=policy.fresh()), sized, args, kind)
        out[key] = t_interval(rewards)
    out["vs_nothing"] = out["value"]["mean"] - out["nothing"]["mean"]
    half = float(  # unpaired (the runs share their seed: the true interval is narrower)
        np.hypot(
            out["value"]["ci_high"] - out["value"]["mean"],
            out["nothing"]["ci_high"] - out["nothing"]["mean"],
        )
    )
    out["vs_nothing_low"] = out["vs_nothing"] - half
    out["vs_nothing_high"] = out["vs_nothing"] + half
    out["users"], out["days"], out["seed"] = scenario.n_users, scenario.horizon_days, args.seed
    return out


def simulated_rewards(
    behaviour: Any, bench: Any, args: argparse.Namespace, kind: str
) -> np.ndarray:
    """Each simulated decision's outcome, read as the log's are (an event log's way when
    the log is one)."""
    from experiments.ope.behaviour import log_decisions, log_with_events

    if kind != "events":
        logged = log_decisions(
            behaviour, bench.scenario, bench.catalogue, args.seed, args.window, once=True
        )
        return np.asarray(logged.reward)
    import tempfile

    from experiments.ope.events import decisions_from_events
    from sim.calibration.eventlog import read_event_log
    from sim.records import save

    _, events = log_with_events(behaviour, bench.scenario, bench.catalogue, args.seed, args.window)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.parquet"
        save(events, path)
        log = read_event_log(path)
        table, _ = decisions_from_events(log, bench.scenario, bench.catalogue, args.window)
    return table["reward"].to_numpy(np.float64)


def mix_words(mix: dict[str, float]) -> str:
    """What a policy would send, largest share first: "support_call 41%, no_offer 59%"."""
    ranked = sorted(mix.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {'under 1%' if v < 0.005 else f'{v:.0%}'}" for k, v in ranked)


def lines(summary: dict[str, Any]) -> list[str]:
    """The terminal's answer: per policy the verdict, the doubly robust estimate and the
    difference from sending nothing, then every estimator."""
    out = [
        f"{summary['decisions']:,} logged decisions; what they earned: "
        f"{summary['logged_value']:,.2f} a decision over {summary['window_days']} days",
        *(f"note: {n}" for n in summary["notes"]),
    ]
    table = pd.DataFrame(summary["estimates"])
    for name, p in summary["policies"].items():
        part = table[table.policy == name].set_index("estimator")
        dr = part.loc["dr"]
        out += [
            "",
            f"{name}: {dr.value:,.2f} a decision (doubly robust, 95% {dr.low:,.2f} to "
            f"{dr.high:,.2f}); vs sending nothing {dr.vs_nothing:+,.2f} ({dr.vs_nothing_low:+,.2f} "
            f"to {dr.vs_nothing_high:+,.2f}), {1000 * dr.vs_nothing:+,.0f} per 1,000 decisions",
            f"  {p['verdict']}",
            *(f"  {d}" for d in p["details"]),
            f"  what {name} would do on these decisions: {mix_words(p['offer_mix'])}",
        ]
        if "prediction" in p:
            pr = p["prediction"]
            out.append(
                f"  the simulator ({summary['scenario']}, {pr['users']:,} customers, "
                f"{pr['days']} days, seed {pr['seed']}: {pr['value']['n']:,} decisions) predicts "
                f"{pr['value']['mean']:,.2f} a decision ({pr['value']['ci_low']:,.2f} to "
                f"{pr['value']['ci_high']:,.2f}), {pr['vs_nothing']:+,.2f} vs sending nothing "
                f"({pr['vs_nothing_low']:+,.2f} to {pr['vs_nothing_high']:+,.2f})"
            )
        for est, row in part.iterrows():
            out.append(
                f"    {NAMES[str(est)]:<24} {row.value:>9,.2f} ({row.low:,.2f} to {row.high:,.2f})"
                f"   vs nothing {row.vs_nothing:+,.2f} ({row.vs_nothing_low:+,.2f} to "
                f"{row.vs_nothing_high:+,.2f})"
            )
    return out


def plot(table: pd.DataFrame, policies: dict[str, Any], path: Path) -> None:
    """Per policy, each estimator's difference from sending nothing with its interval (and
    the simulator's prediction, when made)."""
    from experiments.reporting.kit import pyplot, save

    plt = pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(policies)
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        part = table[table.policy == name].reset_index(drop=True)
        y = np.arange(len(part))
        ax.errorbar(
            part.vs_nothing,
            y,
            xerr=[part.vs_nothing - part.vs_nothing_low, part.vs_nothing_high - part.vs_nothing],
            fmt="o",
            capsize=3,
        )
        ax.set_yticks(y, [NAMES[e] for e in part.estimator])
        ax.axvline(0, color="grey", lw=0.8)
        pred = policies[name].get("prediction")
        if pred is not None:
            ax.axvline(pred["vs_nothing"], color="tab:red", ls="--", label="simulator")
            ax.legend(fontsize=7)
        ax.set_title(name)
        ax.set_xlabel("vs sending nothing, a decision")
    save(fig, path)


def report(summary: dict[str, Any], out: Path) -> str:
    """The HTML page: the answer per policy in words, the estimates, the diagnostics."""
    from experiments.reporting.kit import img, page

    e = html.escape
    body = [
        "<h1>What the log says about a new policy</h1>",
        f"<p>{summary['decisions']:,} decisions logged in <code>{e(summary['log'])}</code> "
        f"({summary['kind']}); each decision's outcome is {OUTCOME[summary['kind']]} over "
        f"the {summary['window_days']} days after it. What the logged decisions earned: "
        f"{summary['logged_value']:,.2f} a decision.</p>",
    ]
    body += [f'<p class="finding">{e(n)}</p>' for n in summary["notes"]]
    table = pd.DataFrame(summary["estimates"])
    for name, p in summary["policies"].items():
        part = table[table.policy == name]
        dr = part[part.estimator == "dr"].iloc[0]
        body += [
            f"<h2>{e(name)}</h2>",
            f'<p class="finding"><b>{e(p["verdict"])}</b></p>',
            f"<p>Estimated value: {dr.value:,.2f} a decision (doubly robust; 95% interval "
            f"{dr.low:,.2f} to {dr.high:,.2f}), {dr.vs_nothing:+,.2f} against sending nothing "
            f"({dr.vs_nothing_low:+,.2f} to {dr.vs_nothing_high:+,.2f}): "
            f"{1000 * dr.vs_nothing:+,.0f} per 1,000 decisions.</p>",
            *(f"<p>{e(d)}</p>" for d in p["details"]),
        ]
        if "prediction" in p:
            pr = p["prediction"]
            body.append(
                f"<p>The simulator ({e(summary['scenario'])}, {pr['users']:,} customers, "
                f"{pr['days']} days) predicts {pr['value']['mean']:,.2f} a decision "
                f"({pr['value']['ci_low']:,.2f} to {pr['value']['ci_high']:,.2f}), "
                f"{pr['vs_nothing']:+,.2f} against sending nothing ({pr['vs_nothing_low']:+,.2f} "
                f"to {pr['vs_nothing_high']:+,.2f}): where the two disagree, the simulator's "
                "defaults or the log's customers differ.</p>"
            )
        rows = "".join(
            f"<tr><td>{e(NAMES[r.estimator])}</td><td>{r.value:,.2f}</td>"
            f"<td>{r.low:,.2f} to {r.high:,.2f}</td><td>{r.vs_nothing:+,.2f}</td>"
            f"<td>{r.vs_nothing_low:+,.2f} to {r.vs_nothing_high:+,.2f}</td></tr>"
            for r in part.itertuples()
        )
        body.append(
            "<table><tr><th>estimator</th><th>value a decision</th><th>95%</th>"
            f"<th>vs nothing</th><th>95%</th></tr>{rows}</table>"
        )
        mix = mix_words(p["offer_mix"])
        body.append(f"<p>What {e(name)} would do on these decisions: {e(mix)}.</p>")
    body += [
        "<h2>The estimators</h2>",
        "<p>Direct method: a model of the outcome (gradient boosting, cross-fitted) asked "
        "what each decision would have earned; right only if the model is. Inverse "
        "propensity (IPS): the logged outcomes of the decisions where the log did what the "
        "policy would, each weighted by one over its logged chance; unbiased when every "
        "propensity is right and the log could do what the policy does. Self-normalised "
        "IPS: the same weights made to average one (less noise, a little bias). Doubly "
        "robust: the model's answer corrected by the weighted errors it made: right if "
        "either the model or the propensities are. Switch-DR leaves rounds with weights "
        "above 20 to the model.</p>",
        img(out / "plots" / "estimates.png"),
    ]
    return page("winback ope", body)
