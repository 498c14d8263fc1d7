"""What the "What your log says" page runs (``winback ope``, ``winback ope-log``) and how it
reads the results back.

Rules, as for the other pages: the app runs exactly the command it shows, and every check
the CLI makes before it starts runs in the page first (:func:`check`: the CLI's own
functions, its messages). An uploaded log is checked as a file before anything is saved
(:func:`upload_problem`: its kind and its columns or keys), then saved into the run's own
folder and named on the command line. The scenario and offers are the draft's (written as
``config/scenario/app.yaml`` and ``config/offers/app.yaml`` in the run's folder, with a copy
of each agent file of the user's the run evaluates) or a named one (``--config-dir`` the
user's folder). References that read what no log holds (``REFERENCES``) are not offered:
the CLI refuses them.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.app.comparison import PLAIN, SLOW, Spec, policies, shown, write_config
from experiments.files import table_columns
from experiments.jobs.benchmark import REFERENCES
from experiments.jobs.ope import NAMES, SUFFIXES
from sim.offers import Catalogue
from sim.scenario import Scenario

RESULTS = "results"
"""The results folder (``--out``) inside a run's folder."""
SIMULATED = "log.npz"
"""The file ``winback ope-log`` writes in its run's folder."""
LOGGERS = {
    "uniform": "every offer (or nothing) equally likely: a randomised test of everything",
    "epsilon_playbook": "the usual playbook, and a random offer 30% of the time",
    "vendor": "a vendor's campaign test: a control group and three offers, the best so far "
    "sent most",
    "thompson": "a bandit that favours what has paid (Thompson sampling)",
}
"""``winback ope-log --logger`` choices, in words (what the simulated company did)."""
KINDS = {
    "npz": "a NumPy archive (bandit feedback)",
    "decisions": "a decisions table",
    "events": "an event log",
}
EVENT_COLUMNS = ("user_id", "timestamp", "event_type", "amount", "propensity")
DECISION_COLUMNS = ("user_id", "day", "action", "propensity", "reward")
NPZ_KEYS = ("n_rounds", "n_actions", "action", "reward", "pscore", "context")
ALLOWED = (
    "allowed: a .npz (as winback ope-log writes), a decisions table or an event log with a "
    "propensity on its offer rows (.csv or .parquet)"
)


# ------------------------------------------------------------------ the log
def upload_problem(name: str, data: bytes) -> str | None:
    """What is wrong with an uploaded log as a file (None: the CLI may read it)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        kind = f"a {suffix} file" if suffix else "a file without a suffix"
        return f"{name}: {kind}; {ALLOWED}"
    if not data:
        return f"{name}: the file is empty; {ALLOWED}"
    try:
        if suffix == ".npz":
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                keys = set(archive.files)
            missing = [k for k in NPZ_KEYS if k not in keys]
            if missing:
                return (
                    f"{name}: an archive without {', '.join(missing)}; allowed: a .npz of "
                    f"bandit feedback ({', '.join(NPZ_KEYS)}), as winback ope-log writes"
                )
            return None
        columns = table_columns(data, suffix)
    except Exception as err:  # any reader's error: the file is not of its kind
        what = {".npz": "a NumPy archive", ".parquet": "a Parquet file", ".csv": "a CSV table"}
        return f"{name}: not readable as {what[suffix]} ({type(err).__name__}); {ALLOWED}"
    need = EVENT_COLUMNS if "event_type" in columns else DECISION_COLUMNS
    missing = [c for c in need if c not in columns]
    if missing:
        which = "an event log" if "event_type" in columns else "a decisions table"
        return (
            f"{name}: read as {which}, it has no column {', '.join(missing)}; allowed: an "
            f"event log ({', '.join(EVENT_COLUMNS)}: the propensity on its offer rows) or a "
            f"decisions table ({', '.join(DECISION_COLUMNS)}, then the features)"
        )
    return None


def ope_log_argv(folder: Path, logger: str, users: int, days: int) -> list[str]:
    """``winback ope-log``: a simulated company's log in ``folder`` (checked as the CLI does)."""
    from sim.validation import check_int

    if logger not in LOGGERS:
        raise ValueError(f"--logger: {logger!r}; allowed: {', '.join(LOGGERS)}")
    check_int("--users", users, 100, 10_000_000)
    check_int("--days", days, 56, 3650)
    out = ["ope-log", "--out", shown(folder / SIMULATED), "--logger", logger]
    return [*out, "--users", str(users), "--days", str(days)]


# ------------------------------------------------------------------ the policies
@dataclass(frozen=True, kw_only=True)
class Offered:
    """A policy the page offers for evaluation."""

    name: str
    words: str
    target: str = ""  # for the user's own agent: its _target_ (its module is trusted)


def offered(config_dir: Path, offers: list[str]) -> list[Offered]:
    """The policies a company could run (the compare page's, without the references and
    the control), a blanket campaign per offer, then the user's own agents."""
    out = []
    for p in policies(config_dir):
        if p.name in (*REFERENCES, "no_offer"):
            continue
        words = PLAIN.get(p.name, p.words)
        slow = f" (slow: {SLOW[p.name]})" if p.name in SLOW else ""
        out.append(Offered(name=p.name, words=words + slow, target=p.target))
    out += [Offered(name=f"blanket_{o}", words=f"{o} to every lapsed customer") for o in offers]
    return out


# ------------------------------------------------------------------ the command
@dataclass(frozen=True, kw_only=True)
class Request:
    """What the page asks ``winback ope`` for."""

    log: Path
    policies: tuple[str, ...]
    yours: dict[str, str]  # the user's own policies chosen: name -> _target_
    user_conf: Path
    scenario: Scenario | None = None  # the draft's (written into the run's folder) ...
    preset: str = "streaming"
    catalogue: Catalogue | None = None
    named: tuple[str, str] = ("streaming", "streaming")  # ... else a named scenario, offers
    predict: bool = False
    window: int = 28
    boot: int = 200

    @property
    def trust(self) -> list[str]:
        return sorted({t.rsplit(".", 1)[0] for n, t in self.yours.items() if n in self.policies})


def ope_argv(req: Request, folder: Path) -> list[str]:
    """The ``winback ope`` arguments; the draft's config written into ``folder/config``."""
    args = ["ope", shown(req.log)]
    for name in req.policies:
        args += ["--policy", name]
    if req.scenario is not None and req.catalogue is not None:
        spec = Spec(scenario=req.scenario, preset=req.preset, catalogue=req.catalogue, policies=())
        conf = write_config(spec, folder)
        for name in req.policies:
            if name in req.yours:
                shutil.copyfile(
                    req.user_conf / "agent" / f"{name}.yaml", conf / "agent" / f"{name}.yaml"
                )
        args += ["--scenario", "app", "--offers", "app", "--config-dir", shown(conf)]
    else:
        args += ["--scenario", req.named[0], "--offers", req.named[1]]
        if req.user_conf.is_dir():
            args += ["--config-dir", shown(req.user_conf)]
    for module in req.trust:
        args += ["--trust", module]
    if req.predict:
        args.append("--predict")
    if req.window != 28:
        args += ["--window", str(req.window)]
    if req.boot != 200:
        args += ["--boot", str(req.boot)]
    return [*args, "--out", shown(folder / RESULTS)]


def check(req: Request, folder: Path) -> list[str]:
    """The arguments after every check ``winback ope`` makes before its work (the log's
    path, the numbers, the config and policies, and a .npz's or decisions table's offers and
    features against the scenario's): ValueError with the CLI's message."""
    from experiments.cli.parsers import build_parser
    from experiments.jobs.ope import check_log_path, compose_config, read_log
    from sim.validation import check_int

    if not req.policies:
        raise ValueError("--policy: none given; allowed: an agent name or a _target_, repeatable")
    folder.mkdir(parents=True, exist_ok=True)
    argv = ope_argv(req, folder)
    args = build_parser("ope").parse_args(argv)
    check_log_path(args.log)
    check_int("--window", args.window, 1, 365)
    check_int("--boot", args.boot, 10, 100_000)
    bench, _ = compose_config(args, args.out)
    if not _is_event_log(args.log):  # an event log's reading is the run's work
        read_log(args.log, bench.scenario, bench.catalogue, args.window)
    return argv


def _is_event_log(path: Path) -> bool:
    return path.suffix != ".npz" and "event_type" in table_columns(path, path.suffix)


# ------------------------------------------------------------------ the results
def summary_of(folder: Path) -> dict[str, Any] | None:
    """A results folder's ``summary.json`` (None until the run has written its report:
    its last file)."""
    if not (folder / "report.html").exists() or not (folder / "summary.json").exists():
        return None
    return dict(json.loads((folder / "summary.json").read_text()))


def amount(v: float) -> str:
    return f"{v:,.2f}"


def signed(v: float) -> str:
    return f"{v:+,.2f}"


def against_nothing(low: float, high: float) -> str:
    """A difference's 95% interval in words."""
    if low > 0:
        return "more than sending nothing"
    if high < 0:
        return "less than sending nothing"
    return "cannot be told apart from sending nothing with this log"


def log_words(summary: dict[str, Any]) -> str:
    kind = KINDS.get(str(summary.get("kind")), str(summary.get("kind")))
    customers = summary.get("customers")
    who = f" for {customers:,} customers" if customers else ""
    return (
        f"{summary['decisions']:,} logged decisions{who} ({kind}, `{summary['log']}`); each "
        f"decision's outcome is the profit over the {summary['window_days']} days after it. "
        f"What the logged decisions earned: **{amount(summary['logged_value'])} a decision**."
    )


def estimate_words(summary: dict[str, Any], name: str) -> list[str]:
    """The doubly robust value, the difference from sending nothing and the simulator's
    prediction, in words (markdown)."""
    table = pd.DataFrame(summary["estimates"])
    dr = table[(table.policy == name) & (table.estimator == "dr")].iloc[0]
    window = summary["window_days"]
    out = [
        f"What **{name}** would have earned on these decisions: **{amount(dr.value)} a "
        f"decision** over {window} days (doubly robust estimate; 95% interval "
        f"{amount(dr.low)} to {amount(dr.high)}).",
        f"Against sending nothing to the same customers: **{signed(dr.vs_nothing)} a "
        f"decision** (95% interval {signed(dr.vs_nothing_low)} to {signed(dr.vs_nothing_high)}"
        f"), about {1000 * dr.vs_nothing:+,.0f} per 1,000 decisions: "
        f"{against_nothing(dr.vs_nothing_low, dr.vs_nothing_high)}.",
    ]
    pred = summary["policies"][name].get("prediction")
    if pred is not None:
        v = pred["value"]
        out.append(
            f"The simulator ({summary['scenario']}, {pred['users']:,} customers, "
            f"{pred['days']} days) predicts {amount(v['mean'])} a decision ({amount(v['ci_low'])} "
            f"to {amount(v['ci_high'])}), {signed(pred['vs_nothing'])} against sending nothing: "
            "where the two disagree, the simulator's settings or the log's customers differ."
        )
    return out


def estimator_table(summary: dict[str, Any], name: str) -> pd.DataFrame:
    """Every estimator's value and difference from sending nothing, in plain names."""
    table = pd.DataFrame(summary["estimates"])
    part = table[table.policy == name]
    return pd.DataFrame(
        {
            "estimator": [NAMES.get(e, e) for e in part.estimator],
            "value a decision": part.value.round(2).to_numpy(),
            "95% interval": [
                f"{lo:,.2f} to {hi:,.2f}" for lo, hi in zip(part.low, part.high, strict=True)
            ],
            "vs sending nothing": part.vs_nothing.round(2).to_numpy(),
            "its 95% interval": [
                f"{lo:+,.2f} to {hi:+,.2f}"
                for lo, hi in zip(part.vs_nothing_low, part.vs_nothing_high, strict=True)
            ],
        }
    )


def mix_words(summary: dict[str, Any], name: str) -> str:
    mix = summary["policies"][name].get("offer_mix") or {}
    return ", ".join(f"{k} {v:.0%}" for k, v in mix.items())


def show(folder: Path, key: str) -> None:
    """A ``winback ope`` results folder as the page shows it."""
    import streamlit as st

    from experiments.app import ui

    summary = summary_of(folder)
    if summary is None:
        st.info("No results in this folder yet (its report is written last).")
        return
    st.markdown(log_words(summary))
    for note in summary.get("notes") or []:
        st.caption(note)
    for name, p in summary["policies"].items():
        st.subheader(name)
        box = st.success if p.get("supported") else st.warning
        box(p["verdict"])
        for line in estimate_words(summary, name):
            st.markdown(f"- {line}")
        for line in p.get("details") or []:
            st.markdown(f"- {line}")
        mix = mix_words(summary, name)
        if mix:
            st.caption(f"What {name} would do on these decisions: {mix}.")
        with st.expander(f"Every estimator for {name}"):
            st.dataframe(estimator_table(summary, name), hide_index=True, key=f"est-{name}-{key}")
    plot = folder / "plots" / "estimates.png"
    if plot.exists():
        st.image(
            str(plot),
            caption="Each estimator's difference from sending nothing, a decision, with its "
            "95% interval (the dashed line: the simulator's prediction, when made)",
        )
    ui.show_report(folder, key)
