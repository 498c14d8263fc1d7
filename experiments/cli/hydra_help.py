"""What ``winback benchmark --help``, ``run --help`` and ``tune --help`` print: what the keys
mean, the config groups and their options (read from ``conf/`` and ``--config-dir``) and
examples, instead of Hydra's generic text and the whole config."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from experiments.config import CONF
from experiments.config.schema import BenchmarkSchema, ScenarioHead

WIDTH = 92
GROUPS = ("scenario", "offers", "agent", "experiment")
INTRO = {
    "benchmark": "The policy leaderboard: every selected agent x seeds on one scenario, each run "
    "paired with the no-offer control on common random numbers, ranked by incremental profit "
    "(95% CI over seeds). Writes tidy.parquet, leaderboard.csv, summary.json, plots and "
    "report.html into hydra.run.dir.",
    "run": "One agent on one scenario, each seed paired with the no-offer control (the "
    "benchmark's machinery and outputs, with conf/run.yaml's defaults).",
    "stress": "The selected policies in an ensemble of plausible worlds: world 0 the nominal "
    "scenario, the others with the response model scaled by factors drawn from `ranges` (and, "
    "with `calibration`, the fitted rates drawn from their uncertainty). Learned agents train "
    "once in the nominal world and are scored in every world; in each world every policy and "
    "the control share seeds. Per policy: mean and 10th percentile of incremental profit, "
    "share of worlds best or within 5% of the best, worst regret; a plain-words robust choice "
    "(highest 10th percentile). Writes worlds.csv, tidy.parquet, robustness.csv, ranks.csv, "
    "rank_stability.png and summary.json into hydra.run.dir.",
}
STRESS_KEYS = (
    ("worlds", "worlds in the ensemble (world 0 the nominal one when nominal=true)"),
    ("world_seed", "draws the worlds (world i is the same whatever worlds is)"),
    ("nominal", "world 0 is the scenario as given; false: every world drawn"),
    ("retrain", "train learned agents again in every world (slow)"),
    ("within", "a policy this close to a world's best counts as 'within' (share)"),
    ("calibration", "a winback calibrate results folder: draw its fitted rates too"),
    (
        "shards, shard",
        "a multirun over shard=0..shards-1 splits the worlds; then "
        "winback stress-combine SWEEP_DIR",
    ),
    (
        "ranges.KEY.low/high/log",
        "factor ranges: lift (per offer), price_sensitivity, "
        "deal_shock, fatigue, unsubscribe, survey_accuracy, release_spacing; log: log-uniform",
    ),
)
KEYS = (
    ("seeds", "seeds: each is one run of every agent and its paired control"),
    ("attribution_days", "days of profit credited to a decision (online learners' feedback)"),
    ("baseline", "an agent every other is compared with, paired (e.g. baseline=playbook)"),
    ("reference", "the agent whose incremental profit shares are of (default full_information)"),
    ("progress", "progress bars and one line per agent built"),
    ("scenario.KEY", "the world (below); scenario=NAME picks a file of conf/scenario/"),
    ("offers.offers", "the catalogue: a list of {name, kind, channel, discount, ...}"),
    ("agent.NAME.KEY", "a keyword of a selected agent; agent=[a,b] selects agents"),
    ("trust", "set by --trust only (a config file cannot trust code)"),
)
SCENARIO_KEYS = (
    ("preset", "the built-in scenario every other key changes (sim/presets.py)"),
    ("users, days", "population and horizon"),
    ("epoch_days", "days between decisions: every agent decides for every user this often"),
    ("price_changes", "[{day, plan, monthly_price}, ...] new list prices from a day on"),
    ("plans, channels, releases, genres, segments", "lists; see sim/scenario.py for fields"),
    ("dynamics.FIELD", "the response model (sim.Dynamics), e.g. dynamics.deal_shock_prob=0.3"),
    (
        "signals.FAMILY",
        "how plainly logged behaviour shows a pain point, 0 noise to 1 strong (sim.Signals), "
        "e.g. signals.price=0.8",
    ),
    (
        "business, warmup_days, inactive_after_days, serving_cost_per_session, margin",
        "single values; see sim/scenario.py",
    ),
)
OPTIONS = (
    ("--trust MODULE", "let a _target_ name code in MODULE (your own policy); repeatable"),
    ("--config-dir DIR", "your own config folder (DIR/scenario/mine.yaml -> scenario=mine)"),
    ("-m, --multirun", "a sweep: comma-separated values run one job each"),
    ("--cfg job", "print the composed config and exit (also Hydra's --info, --hydra-help)"),
)
EXAMPLES = {
    "benchmark": (
        "winback benchmark experiment=quick",
        "winback benchmark 'agent=[playbook,full_information,thompson]' 'seeds=[1,2]'",
        "winback benchmark experiment=quick baseline=playbook",
        "winback benchmark experiment=quick "
        "'scenario.price_changes=[{day: 30, plan: standard, monthly_price: 17.49}]'",
        "winback benchmark --config-dir my_conf scenario=mine offers=mine",
        "winback benchmark --trust examples.byop +agent.rules._target_=examples.byop.RecencyRules",
        "winback benchmark -m experiment=sweep_budget",
    ),
    "stress": (
        "winback stress experiment=quick worlds=5",
        "winback stress 'agent=[playbook,thompson,uplift,blanket]' ranges.lift.low=0.3",
        "winback stress ranges.release_spacing=null retrain=true",
        "winback stress -m shards=4 shard=0,1,2,3 hydra/launcher=joblib hydra.launcher.n_jobs=2",
    ),
    "run": (
        "winback run agent=thompson scenario=price_shock",
        "winback run agent=pain_point_rule scenario.users=200000 'seeds=[1,2,3,4,5]'",
    ),
}


def options_of(group: str, config_dir: str | None) -> list[str]:
    folders = [CONF / group, *([Path(config_dir) / group] if config_dir else [])]
    return sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.yaml")})


def root_defaults(command: str) -> tuple[dict[str, str], dict[str, Any]]:
    """What the root config (``conf/<command>.yaml``) picks: group -> option, and the value
    of each top-level key (the schema's default where the file sets none)."""
    root = yaml.safe_load((CONF / f"{command}.yaml").read_text())
    groups = {}
    for item in root.get("defaults", []):
        if isinstance(item, dict):
            ((group, choice),) = item.items()
            if choice is not None:
                groups[group] = choice if isinstance(choice, str) else ",".join(choice)
    values = {**asdict(BenchmarkSchema()), **{k: v for k, v in root.items() if k != "hydra"}}
    if command == "stress":
        values["shards, shard"] = f"{values['shards']}, {values['shard']}"
    values["users, days"] = f"{ScenarioHead.users}, {ScenarioHead.days}"
    return groups, values


def table(rows: Iterable[tuple[str, str]], values: dict[str, Any] | None = None) -> list[str]:
    """Two columns, the second wrapped; ``values``: defaults shown after the text."""

    def shown(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    rows = [
        (k, f"{v} (default: {shown(values[k])})" if values and k in values else v) for k, v in rows
    ]
    width = max(len(k) for k, _ in rows if len(k) < 30) + 2
    out = []
    for key, text in rows:
        lines = textwrap.wrap(text, WIDTH - width - 2) or [""]
        first = f"  {key:<{width}}{lines[0]}" if len(key) < 30 else f"  {key}"
        rest = lines[1:] if len(key) < 30 else lines
        out += [first, *(f"  {'':<{width}}{line}" for line in rest)]
    return out


def hydra_help(command: str, config_dir: str | None = None) -> str:
    """The help text of ``winback benchmark`` or ``winback run``."""
    chosen, values = root_defaults(command)
    groups = [(g, ", ".join(options_of(g, config_dir))) for g in GROUPS]
    lines = [
        f"usage: winback {command} [--trust MODULE] [--config-dir DIR] [-m] [KEY=VALUE ...]",
        "",
        *textwrap.wrap(INTRO[command], WIDTH),
        "",
        "Keys (KEY=VALUE; +KEY=VALUE adds one the config lacks):",
        *table(KEYS, values),
        *(["", "Stress keys:", *table(STRESS_KEYS, values)] if command == "stress" else []),
        "",
        "Config groups (GROUP=OPTION):",
        *table(groups, chosen),
        "",
        "Scenario keys (scenario.KEY=VALUE; unset keys keep the preset's value):",
        *table(SCENARIO_KEYS, values),
        "",
        "Options:",
        *table(OPTIONS),
        "",
        "Examples:",
        *[f"  {e}" for e in EXAMPLES[command]],
    ]
    return "\n".join(lines)


TUNE_HELP = """usage: winback tune [--out DIR] [--trust MODULE] [KEY=VALUE ...]

Optuna over the benchmark: each trial composes the benchmark config with your overrides and
the trial's values, runs it and scores the tune.agent's mean incremental profit. The study
lives in tune.storage (SQLite): an interrupted study resumes where it stopped.

Keys: every key of `winback benchmark --help`, and the tune node:
  tune.agent         whose incremental profit is maximised
  tune.trials        complete trials wanted in the study
  tune.study, tune.storage, tune.sampler_seed
  tune.space.NAME    {key, low, high, log, int} or {key, choices}
  tune.rescore_top   best trials re-run on fresh seeds before a winner is named (0: none)
  tune.rescore_seeds those fresh seeds (apart from `seeds`)

One process per study (a second one is refused); a resumed study must keep its settings
(only tune.trials and the re-scoring may change): use a new tune.study otherwise. The
best trials and the defaults are re-scored on fresh seeds, paired, and the verdict says
which wins, whether they can be told apart, and whether any beats doing nothing.

Options:
  --out DIR          trial folders, trials.csv, rescore.csv, best.json, history.png
                     (default outputs/tune)
  --trust MODULE     let a _target_ name code in MODULE; repeatable

Example:
  winback tune experiment=tune_thompson tune.trials=20"""


PLAN_HELP = """usage: winback plan [--out DIR] [--trust MODULE] [KEY=VALUE ...]

The live A/B test that would confirm a policy, planned from the simulator: customers enter
the test the first campaign epoch they are seen lapsed, half get plan.policy from then on,
half plan.against; each is measured over plan.follow_days. From both arms' simulated
outcomes of every customer (common random numbers): customers per arm for the power
(statsmodels), the effect detectable at a given size, weeks to enrol at the simulated flow,
what the holdout costs, guardrails (opt-outs, discount spend), and CUPED's saving (the
same metric over plan.pre_days before entry as the covariate).

Keys: every key of `winback benchmark --help` (the scenario: set scenario.users to your
customer base, so the flow of entrants is yours), and the plan node:
  plan.policy        the agent the test would roll out (default playbook)
  plan.against       its comparison arm: no_offer (default) or another agent (today's)
  plan.metric        profit (per customer over the window) or reactivation (share back)
  plan.power, plan.alpha           default 0.8 and 0.05
  plan.mde           an effect to size the test for (money per customer, or a share)
  plan.size          customers per arm to give the detectable effect for
  plan.follow_days, plan.pre_days  multiples of scenario.epoch_days (56, 28)
  plan.validate      run the planned test this many times on fresh simulated customers
                     (and as many A/A tests): observed power and false-positive rate
  plan.seed

Options:
  --out DIR          plan.json, outcomes.parquet (default outputs/plan/<date_time>)
  --trust MODULE     let a _target_ name code in MODULE; repeatable

Examples:
  winback plan experiment=quick plan.policy=blanket_recommendations
  winback plan experiment=quick plan.policy=uplift plan.against=playbook plan.metric=reactivation
  winback plan experiment=quick plan.policy=blanket_recommendations plan.metric=reactivation \\
      plan.validate=2000"""
