"""A comparison the app runs, as the CLI command that runs it, and its results read back.

Rules: the app runs exactly the command it shows. The scenario and catalogue on the page
are written as config files into the run's own folder (``config/scenario/app.yaml``: the
keys that differ from the scenario's preset; ``config/offers/app.yaml``; one
``config/agent/blanket_<offer>.yaml`` per chosen blanket offer), and the command is
``winback benchmark --config-dir <run>/config scenario=app offers=app 'agent=[...]'
seeds=[...] hydra.run.dir=<run>``: the same Hydra entry point, checks and results folder as
any ``winback benchmark`` (so ``winback report``/``aggregate`` work on it). The user's
config folder joins the search path (``hydra.searchpath``) when one of their own agents is
chosen, whose module is then trusted (``--trust``): choosing it in the app is consent, as
naming it on the command line is. A quick comparison uses the training budgets of
``conf/experiment/quick.yaml`` for the agents it selects (listed in the command). Every
check the CLI makes runs before the job starts (``config.compose.precheck``): a bad value is
refused with the CLI's message and nothing is written beyond the run's config files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from experiments.config import CONF
from experiments.config.scenario import catalogue_spec, scenario_yaml
from experiments.files import write_text
from experiments.reporting.kit import money
from sim.offers import Catalogue
from sim.scenario import Scenario

NOT_CHOSEN = ("blanket", "campaign")
"""Agent configs the policy list does not offer as such: blankets are chosen per offer; a
campaign is a logging policy (``winback simulate --campaign``), not a candidate."""
SLOW = {
    "full_information": "about a minute a seed at 10,000 customers",
    "maskable_ppo": "minutes of training",
    "ppo": "minutes of training",
    "a2c": "minutes of training",
    "dqn": "minutes of training",
}
"""Policies that make a quick comparison slow, and why (shown beside them)."""
_BANDIT = (
    "learns as it goes (a bandit): tries offers for each group of customers (their status and "
    "the reason they gave) and favours what has paid"
)
_LINEAR = (
    "learns as it goes (a bandit) from each customer's observed behaviour, favouring the "
    "offers that paid for customers like them"
)
_RL = (
    "reinforcement learning: a neural network trained on many simulated years to decide "
    "week by week (minutes of training; the quick budget is for trying it out)"
)
PLAIN = {
    "no_offer": "sends nothing: the control every other policy is measured against",
    "random": "a random offer (or nothing) to every customer, every week: a floor",
    "playbook": "the usual playbook: the offer that matches the reason a customer gave when "
    "cancelling (price: a discount; content: a free trial or a new-release message; "
    "discovery: recommendations; technical: a support call), a reminder when they gave none; "
    "only after 4 weeks without a visit",
    "playbook_scored": "the usual playbook, but the reason is read from behaviour where a "
    "customer gave none (app errors, abandoned searches, titles finished, pricing-page "
    "visits...): a model learned from the simulator names each lapsed customer's likeliest "
    "reason (seconds of training)",
    "pain_point_rule": "a yardstick, not a choice: the offer matching each customer's real, "
    "hidden reason, which no company knows",
    "full_information": "a yardstick, not a choice: knows each customer's hidden state and "
    "looks ahead at what each offer would earn them (about a minute a seed)",
    "uplift": "learned from the simulator: predicts from what the company sees how much each "
    "offer would add for each customer, and sends the best one where it pays",
    "thompson": f"{_BANDIT}; tries each offer as often as it might be the best (Thompson sampling)",
    "thompson_scored": f"{_BANDIT}, with the reason read from behaviour where a customer "
    "gave none; tries each offer as often as it might be the best (Thompson sampling)",
    "ucb1": f"{_BANDIT}; tries first the offers it knows least about (UCB1)",
    "epsilon_greedy": f"{_BANDIT}; mostly the best so far, now and then a random one",
    "linucb": f"{_LINEAR}; tries first the offers it knows least about (LinUCB)",
    "linear_thompson": f"{_LINEAR}; tries each offer as often as it might be the best",
    "maskable_ppo": _RL,
    "ppo": _RL,
    "a2c": _RL,
    "dqn": _RL,
}
"""What each built-in policy does, in a strategist's words (the config files' opening
comments say it for engineers; a policy not listed here is described by its file's)."""
DEFAULT_POLICIES = ("no_offer", "playbook", "pain_point_rule", "uplift", "thompson")
MY_PLAYBOOK = "my_playbook"
"""The name of the playbook set on the page (a rule per stated reason)."""
PLAYBOOK_FIELDS = {
    "price": "said price",
    "content_churned": "said content, and cancelled",
    "content": "said content, still subscribed",
    "discovery": "said discovery (finding things)",
    "technical": "said technical problems",
    "default": "gave no answer",
}
"""The playbook's offer fields and the customers each decides for (by exit-survey answer)."""


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A policy the page offers: its config name, what it is in words, whose it is."""

    name: str
    words: str
    source: str = "built-in"  # or "yours"
    target: str = ""  # for a user's agent: the _target_ it names

    @property
    def module(self) -> str:
        return self.target.rsplit(".", 1)[0] if self.target else ""


def policies(user_conf: Path) -> list[Policy]:
    """The built-in agents (in ``PLAIN`` words, else their config file's opening comment),
    then the user's own (``agent/*.yaml`` in their config folder)."""
    from experiments.app.workspace import agent_names, user_agents

    out = [
        Policy(name=n, words=PLAIN.get(n) or opening_comment(CONF / "agent" / f"{n}.yaml"))
        for n in agent_names(CONF)
        if n not in NOT_CHOSEN
    ]
    out += [
        Policy(name=n, words=f"your policy ({t})", source="yours", target=t)
        for n, t in user_agents(user_conf).items()
        if n not in {p.name for p in out}
    ]
    return out


def opening_comment(path: Path) -> str:
    """The comment a config file opens with, as one paragraph."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").rstrip())
    return " ".join(x for x in lines if x)


@dataclass(frozen=True, kw_only=True)
class Spec:
    """What the page asks for."""

    scenario: Scenario
    preset: str
    catalogue: Catalogue
    policies: tuple[str, ...]  # agent config names (built-in or the user's)
    blankets: tuple[str, ...] = ()  # offers each sent to every lapsed customer
    seeds: tuple[int, ...] = (1, 2, 3)
    quick: bool = True
    user_conf: Path = Path("my_conf")
    user_policies: dict[str, str] = field(default_factory=dict)  # name -> _target_
    command: str = "benchmark"  # or "stress"
    extra: tuple[str, ...] = ()  # further overrides (a researcher's), checked as any
    playbook: dict[str, Any] | None = None  # your playbook (``MY_PLAYBOOK``): its fields

    @property
    def agents(self) -> list[str]:
        mine = [MY_PLAYBOOK] if self.playbook is not None else []
        return [*self.policies, *mine, *(f"blanket_{o}" for o in self.blankets)]

    @property
    def trust(self) -> tuple[str, ...]:
        mods = {t.rsplit(".", 1)[0] for n, t in self.user_policies.items() if n in self.policies}
        return tuple(sorted(mods))


def write_config(spec: Spec, folder: Path) -> Path:
    """The run's config folder (see the module doc); returns it."""
    conf = folder / "config"
    for group in ("scenario", "offers", "agent"):
        (conf / group).mkdir(parents=True, exist_ok=True)
    write_text(
        conf / "scenario" / "app.yaml",
        scenario_yaml(spec.scenario, spec.preset, ["The scenario as set in winback app."]),
    )
    offers = yaml.safe_dump(catalogue_spec(spec.catalogue), sort_keys=False)
    write_text(conf / "offers" / "app.yaml", "# The offers as set in winback app.\n" + offers)
    if spec.playbook is not None:
        fields = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in spec.playbook.items())
        write_text(
            conf / "agent" / f"{MY_PLAYBOOK}.yaml",
            "# The playbook as set in winback app: an offer (or nothing) per stated reason.\n"
            f"defaults:\n  - /agent_schema/playbook@{MY_PLAYBOOK}\n  - _self_\n\n"
            f"{MY_PLAYBOOK}:\n  _target_: agents.reference.Playbook\n  name: {MY_PLAYBOOK}\n"
            + fields,
        )
    for offer in spec.blankets:
        name = f"blanket_{offer}"
        write_text(
            conf / "agent" / f"{name}.yaml",
            f"# {offer} to every customer seen as inactive or churned.\n"
            f"defaults:\n  - /agent_schema/blanket@{name}\n  - _self_\n\n"
            f"{name}:\n  _target_: agents.reference.Blanket\n  offer: {offer}\n",
        )
    return conf


def playbook_of(folder: Path) -> dict[str, Any] | None:
    """The playbook set on the page for the run in ``folder`` (None: it ran none)."""
    path = folder / "config" / "agent" / f"{MY_PLAYBOOK}.yaml"
    if not path.exists():
        return None
    node = dict(yaml.safe_load(path.read_text())[MY_PLAYBOOK])
    return {k: v for k, v in node.items() if k not in ("_target_", "name")}


def quick_budgets(agents: list[str]) -> list[str]:
    """``conf/experiment/quick.yaml``'s training budgets for the selected agents."""
    quick = yaml.safe_load((CONF / "experiment" / "quick.yaml").read_text())
    out = []
    for name, params in (quick.get("agent") or {}).items():
        if name in agents:
            out += [f"agent.{name}.{k}={v}" for k, v in params.items()]
    return out


def argv(spec: Spec, folder: Path) -> list[str]:
    """The ``winback`` arguments of the run (paths relative to the working folder when
    they are inside it). ``plan`` takes its folder as ``--out`` and the run's config folder
    on the search path; ``benchmark`` and ``stress`` as ``--config-dir`` and
    ``hydra.run.dir``."""
    conf = folder / "config"
    trust = [f"--trust={m}" for m in spec.trust]
    searchpath = [f"file://{conf.resolve()}"] if spec.command == "plan" else []
    if spec.trust:
        searchpath.append(f"file://{spec.user_conf.resolve()}")
    if spec.command == "plan":
        out = ["plan", *trust, "--out", shown(folder)]
    else:
        out = [spec.command, *trust, "--config-dir", shown(conf)]
    out += ["scenario=app", "offers=app", f"agent=[{','.join(spec.agents)}]"]
    out += [f"seeds=[{','.join(str(s) for s in spec.seeds)}]"]
    if searchpath:
        out.append(f"hydra.searchpath=[{','.join(searchpath)}]")
    if spec.quick:
        out += quick_budgets(spec.agents)
    out += list(spec.extra)
    if spec.command != "plan":
        out.append(f"hydra.run.dir={shown(folder)}")
    return out


def check(spec: Spec, folder: Path) -> list[str]:
    """Write the run's config and make every check the CLI makes before a run; returns the
    arguments, or raises ValueError with the CLI's message."""
    from experiments.cli.hydra_commands import hydra_arguments, job_options, take_option
    from experiments.config.compose import precheck

    args = argv(spec, folder)
    write_config(spec, folder)
    if spec.command == "plan":
        from experiments.jobs.plan import checked_plan

        overrides, out, trusted = job_options(args[1:])
        checked_plan(overrides, out, trusted)
        return args
    rest, _ = take_option(args[1:], "--trust")
    parsed = hydra_arguments(rest)
    trust = [f"trust=[{','.join(spec.trust)}]"] if spec.trust else []
    precheck(
        spec.command,
        [*parsed.overrides, *trust],
        parsed.config_dir,
        trusted=spec.trust,
        command=spec.command,
    )
    return args


def check_plain(
    kind: str, experiment: str | None, extra: list[str], folder: Path, user_conf: Path
) -> list[str]:
    """The full benchmark (``kind`` benchmark) or a sweep of ``experiment`` (``sweep``) with
    ``extra`` overrides, the user's config folder on the search path when it exists: the
    arguments, after every check the CLI makes (ValueError with its message)."""
    from experiments.config.compose import precheck

    if kind not in ("benchmark", "sweep"):
        raise ValueError(f"kind: {kind!r}; allowed: benchmark, sweep")
    conf = ["--config-dir", shown(user_conf)] if user_conf.is_dir() else []
    sweep = kind == "sweep"
    if sweep and not experiment:
        raise ValueError("experiment: none chosen; allowed: an experiment file's name")
    overrides = [*([f"experiment={experiment}"] if sweep else []), *extra]
    where = f"hydra.{'sweep' if sweep else 'run'}.dir={shown(folder)}"
    precheck("benchmark", [*overrides, where], conf[1] if conf else None, multirun=sweep)
    return ["benchmark", *(["-m"] if sweep else []), *conf, *overrides, where]


def shown(path: Path) -> str:
    """``path`` as the command and the pages show it: relative to the working folder when
    it lies inside it (``outputs/app/...``), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


# ------------------------------------------------------------------ results
@dataclass(frozen=True, kw_only=True)
class Results:
    """A finished benchmark folder as the page shows it."""

    folder: Path
    summary: dict[str, Any]
    board: pd.DataFrame
    mix: pd.DataFrame

    @property
    def reference(self) -> str | None:
        return self.summary.get("reference")


def results(folder: Path) -> Results | None:
    """The results in ``folder`` (None until its ``summary.json`` is written: the run marks
    itself done with it)."""
    if not (folder / "summary.json").exists():
        return None
    return Results(
        folder=folder,
        summary=json.loads((folder / "summary.json").read_text()),
        board=pd.read_csv(folder / "leaderboard.csv"),
        mix=pd.read_parquet(folder / "offer_mix.parquet"),
    )


def ranked_table(res: Results) -> pd.DataFrame:
    """The leaderboard in the strategist's words (one row per policy, money per run; the
    columns with no value left out)."""
    from experiments.reporting.leaderboard import roi_text

    b = res.board
    ref = res.reference or "the reference"
    one_seed = b.incremental_profit_ci_low.isna().all()
    table = pd.DataFrame(
        {
            "#": b["rank"],
            "policy": b.agent,
            "incremental profit": b.incremental_profit.round(0),
            "95% interval": None
            if one_seed
            else [
                f"{lo:+,.0f} to {hi:+,.0f}"
                for lo, hi in zip(
                    b.incremental_profit_ci_low, b.incremental_profit_ci_high, strict=True
                )
            ],
            f"% of {ref}": (100 * b.share_of_reference).round(0)
            if "share_of_reference" in b
            else None,
            "extra back": b.incremental_reactivated_users.round(0),
            "spend": b.offer_spend.round(0),
            "ROI": [roi_text(r, s) for r, s in zip(b.roi, b.offer_spend, strict=True)],
            "cost per extra back": b.cost_per_incremental_reactivation.round(2),
            "unsubscribes": b.unsubscribes.round(0),
        }
    )
    # a column with no value at all says nothing (one seed: no intervals; no reference run:
    # no share of it): left out rather than shown as a column of "None"
    return table.dropna(axis="columns", how="all")


def who_got_what(res: Results, by: str) -> pd.DataFrame:
    """Sends per run: policy x offer (rows) by ``by`` (``segment``, ``stated_reason`` or
    ``pain_point``; columns)."""
    mix = res.mix
    if mix.empty:
        return pd.DataFrame()
    seeds = max(1, mix.seed.nunique())
    table = mix.pivot_table(
        index=["agent", "offer"], columns=by, values="sends", aggfunc="sum", fill_value=0
    )
    return (table / seeds).round(0).rename(columns={"none": "no particular reason"})


def answer(res: Results) -> list[str]:
    """The comparison's answer in a strategist's words (markdown): the best policy a
    company could run, then every other policy's verdict against sending nothing (pays /
    loses / cannot be told apart at this size); the references named as yardsticks."""
    agents = res.summary["agents"]
    runnable = [a for a in res.board.agent if not agents[a].get("hidden") and a != "no_offer"]
    hidden = [a for a in res.board.agent if agents[a].get("hidden")]
    one_seed = len(res.summary.get("seeds") or []) < 2

    def amount(name: str) -> str:
        p = agents[name]["incremental_profit"]
        return f"{money(p['mean'])} beyond sending nothing{_interval(p, one_seed)}"

    out = []
    best = max(runnable, key=lambda a: agents[a]["incremental_profit"]["mean"], default=None)
    if best is not None and agents[best]["incremental_profit"]["mean"] > 0:
        out.append(
            f"Of the policies a company could run, **{best}** earned the most: {amount(best)}; "
            f"it {verdict(agents[best]['incremental_profit'], one_seed)}."
        )
    elif best is not None:
        out.append("**No policy a company could run earned more than sending nothing.**")
    out += [
        f"**{name}** {verdict(agents[name]['incremental_profit'], one_seed)}: {amount(name)}."
        for name in runnable
        if name != best or not out[0].startswith("Of the")
    ]
    if hidden:
        sees = "sees" if len(hidden) == 1 else "see"
        future = ", or the future" if "full_information" in hidden else ""
        out.append(
            f"{' and '.join(hidden)} {sees} what no company can (each customer's hidden reason"
            f"{future}): yardsticks of what is possible, not choices."
        )
    return out


def verdict(p: dict[str, Any], one_seed: bool) -> str:
    """A policy's incremental profit in words."""
    if one_seed:
        return "cannot be judged from one seed (run 2 or more for an interval)"
    if (p.get("ci_low") or 0) > 0:
        return "pays for itself"
    if (p.get("ci_high") or 0) < 0:
        return "loses money"
    return "cannot be told apart from sending nothing at this size (more customers or seeds)"


def _interval(p: dict[str, Any], one_seed: bool) -> str:
    if one_seed or p.get("ci_low") is None:
        return ""
    return f", 95% interval {money(p['ci_low'])} to {money(p['ci_high'])}"


def scenario_words(res: Results) -> str:
    """What the run simulated, including what the strategist changed (prices, calendar)."""
    spec = res.summary.get("scenario_spec") or {}
    cfg = res.summary.get("config", {}).get("scenario", {})
    users, days = res.summary.get("users") or cfg.get("users"), res.summary.get("days")
    words = f"{res.summary.get('scenario', '?')}, {users:,} customers, {days} days"
    changes = spec.get("price_changes") or []
    if changes:
        words += "; price changes: " + ", ".join(
            f"day {c['day']} {c['plan']} to {c['monthly_price']:g}" for c in changes
        )
    return words


def findings(res: Results) -> list[str]:
    """The report's plain-words findings (HTML fragments)."""
    from experiments.reporting.leaderboard import findings as report_findings

    return report_findings(res.summary, res.board)
