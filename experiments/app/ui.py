"""What the pages share: the settings, the browser session, the draft (scenario and
offers being edited) and the views of a job and of a results folder.

Rules: the draft lives in the session (``st.session_state``), never in files, until the
user saves it; the session's id is in the page's address (``?session=...``) so a reload
finds the session's runs again (they live in files: ``jobs``); two browser sessions have
two ids, two run folders and never see each other's runs on the pages that run things.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from experiments.app import jobs
from experiments.app.offers_table import read as read_offers
from experiments.app.offers_table import table_of
from experiments.app.scenario_form import Form, build, form_of
from sim.offers import Catalogue
from sim.scenario import Scenario

DEFAULT_SCENARIO = "streaming"
CHOICES = "app_choices.json"
"""In a run's folder: the page's choices when it started (restored after a reload)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    config_dir: Path  # the user's config folder (what winback benchmark --config-dir reads)
    out: Path  # where results go (outputs/)

    @property
    def runs(self) -> Path:
        return self.out / "app"


def settings() -> Settings:
    """From ``winback app`` (environment: WINBACK_APP_CONFIG_DIR, WINBACK_APP_OUT)."""
    return Settings(
        config_dir=Path(os.environ.get("WINBACK_APP_CONFIG_DIR", "my_conf")),
        out=Path(os.environ.get("WINBACK_APP_OUT", "outputs")),
    )


def session() -> str:
    """This browser session's id: from the address after a reload, else new."""
    sid = st.session_state.get("session")
    if sid is None:
        given = st.query_params.get("session")
        try:
            sid = jobs.check_session(given) if given else None
        except ValueError:
            sid = None
        sid = sid or secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")
        st.session_state["session"] = sid
    if st.query_params.get("session") != sid:
        st.query_params["session"] = sid
    return str(sid)


# ------------------------------------------------------------------ the draft
@dataclass(frozen=True, kw_only=True)
class Draft:
    """The scenario and offers as the pages hold them, and what is wrong with them."""

    base_name: str
    base: Scenario
    preset: str
    scenario: Scenario | None
    scenario_problems: dict[str, str]
    offers_name: str
    table: pd.DataFrame
    catalogue: Catalogue | None
    offer_problems: dict[int, str]

    @property
    def ready(self) -> bool:
        return self.scenario is not None and self.catalogue is not None


def set_base(name: str) -> str | None:
    """Start the draft's scenario from ``name``; the message when it does not load."""
    from experiments.app.workspace import load_scenario

    try:
        base, preset = load_scenario(name, settings().config_dir)
    except ValueError as err:
        return f"{name}: {err}"
    use_base(name, base, preset, form_of(base))
    return None


def use_base(name: str, base: Scenario, preset: str, form: Form) -> None:
    """The draft's scenario from now on (its widgets start again from ``form``)."""
    state = st.session_state
    state["base_name"], state["base"], state["preset"] = name, base, preset
    state["form"] = form
    state["form_version"] = state.get("form_version", 0) + 1


def start_from(
    group: str, current: str, load: Callable[[str], str | None], keeps: str, key: str
) -> None:
    """A "Start from" choice of ``group`` (built-in first, then yours). A choice that does
    not load is named with its message, the page ``keeps`` what it had and the choice goes
    back to ``current`` (so what is shown is what runs)."""
    from experiments.app.workspace import choices

    options = {c.name: c.label for c in choices(group, settings().config_dir)}
    if current not in options:  # restored from a run (restore_last_run): kept as it is
        options = {current: current, **options}
    state = st.session_state
    if state.get(key) not in options:
        state[key] = current

    def changed() -> None:
        failed = load(state[key])
        if failed:
            state[key] = current
            state[f"{key}-failed"] = f"This does not load, so {keeps}: {failed}"

    st.selectbox("Start from", list(options), format_func=lambda n: options[n], key=key,
                 on_change=changed)  # fmt: skip
    failed = state.pop(f"{key}-failed", None)
    if failed:
        st.error(failed)


def set_offers(name: str) -> str | None:
    from experiments.app.workspace import load_offers

    try:
        catalogue = load_offers(name, settings().config_dir)
    except ValueError as err:
        return f"{name}: {err}"
    use_offers(name, catalogue)
    return None


def use_offers(name: str, catalogue: Catalogue) -> None:
    """The draft's offers from now on."""
    set_table(table_of(catalogue))
    st.session_state["offers_name"] = name


def set_table(table: pd.DataFrame) -> None:
    """Replace the offers table (the editor starts again from it)."""
    st.session_state["offers_table"] = table.reset_index(drop=True)
    st.session_state["offers_version"] = st.session_state.get("offers_version", 0) + 1


def draft() -> Draft:
    """The current draft (the defaults on a first visit)."""
    state = st.session_state
    if "base" not in state and not restore_last_run():
        problem = set_base(DEFAULT_SCENARIO)
        if problem:
            raise RuntimeError(problem)  # the package's own scenario: a broken install
    if "offers_table" not in state:
        preset = state["preset"]
        problem = set_offers(preset if preset in ("streaming", "retail") else "streaming")
        if problem:
            raise RuntimeError(problem)
    form: Form = state["form"]
    scenario, s_problems = build(state["base"], form)
    catalogue, o_problems = read_offers(state["offers_table"], scenario)
    return Draft(
        base_name=state["base_name"],
        base=state["base"],
        preset=state["preset"],
        scenario=scenario,
        scenario_problems=s_problems,
        offers_name=state.get("offers_name", ""),
        table=state["offers_table"],
        catalogue=catalogue,
        offer_problems=o_problems,
    )


def restore_last_run() -> bool:
    """After a reload (a new session state, the same session id): the draft as this
    session's latest run had it (its ``config/`` folder); False when there is none."""
    from experiments.app.workspace import load_offers, load_scenario

    ordered = session_jobs("compare") + session_jobs("benchmark", "stress", "plan")
    for job in ordered:
        conf = job.folder / "config"
        if not (conf / "scenario" / "app.yaml").exists():
            continue
        try:
            base, preset = load_scenario("app", conf)
            catalogue = load_offers("app", conf)
        except ValueError:
            continue
        label = f"as in your run {job.folder.name}"
        use_base(label, base, preset, form_of(base, quick=False))
        use_offers(label, catalogue)
        saved = job.folder / CHOICES
        if saved.exists():
            st.session_state["run_choices"] = json.loads(saved.read_text())
        return True
    return False


def checked_draft() -> Draft:
    """The draft, with what stops a run shown (page and message) on the page that runs."""
    d = draft()
    for message in draft_problems(d):
        st.error(message)
    return d


def draft_problems(d: Draft) -> list[str]:
    """What stops a run, in words (page and message)."""
    out = [f"Scenario page: {m}" for m in d.scenario_problems.values()]
    out += [f"Offers page, {offer_row(d.table, i)}: {m}" for i, m in d.offer_problems.items()]
    return out


def offer_row(table: pd.DataFrame, position: int) -> str:
    if position < 0 or position >= len(table):
        return "the catalogue"
    name = table.iloc[position].get("name")
    return (
        f"row {position + 1} ({name})" if isinstance(name, str) and name else f"row {position + 1}"
    )


# ------------------------------------------------------------------ jobs and results
def job_panel(job: jobs.Job, key: str) -> jobs.Status:
    """A job's progress, its command and a cancel button; polls itself while it runs."""
    status = jobs.status(job)
    st.caption("The same run from a terminal:")
    st.code(job.command, language="bash", wrap_lines=True)
    if status.state == "running":
        _progress(job, key)
    elif status.state == "failed":
        st.error(f"The run stopped with an error: {status.error or 'see the log'}")
        with st.expander("Log"):
            st.code(status.log_tail)
    elif status.state in ("cancelled", "lost"):
        st.warning(f"The run was {status.state}: nothing it had not finished was written.")
    return status


def _progress(job: jobs.Job, key: str) -> None:
    @st.fragment(run_every=1.0)
    def poll() -> None:
        status = jobs.status(job)
        if status.state != "running":
            st.rerun()  # the whole page: show the results
        fraction = status.fraction if status.fraction is not None else 0.0
        st.progress(min(max(fraction, 0.0), 1.0), text=status.step or "starting ...")
        if st.button("Cancel this run", key=f"cancel-{key}"):
            jobs.cancel(job)
            st.rerun()

    poll()


def findings_markdown(fragment: str) -> str:
    """A finding of the HTML report (``<b>``, ``<code>``) as markdown."""
    text = re.sub(r"</?b>", "**", fragment)
    text = re.sub(r"</?code>", "`", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def show_report(folder: Path, key: str) -> None:
    """The folder's ``report.html``: to download, and inside the page."""
    report = folder / "report.html"
    if not report.exists():
        return
    st.download_button(
        "Download the report (HTML)",
        report.read_bytes(),
        file_name=f"{folder.name}-report.html",
        mime="text/html",
        key=f"report-{key}",
    )
    with st.expander("The report, in the page"):
        st.iframe(report, height=900)  # our own report: escaped, no scripts


def show_files(folder: Path, key: str) -> None:
    """Every table (CSV) and plot (PNG) a run wrote, and its report."""
    show_report(folder, key)
    for png in sorted(folder.rglob("*.png")):
        st.image(str(png), caption=str(png.relative_to(folder)))
    for csv in sorted(folder.glob("*.csv")):
        with st.expander(f"Table: {csv.name}"):
            st.dataframe(pd.read_csv(csv).head(500), hide_index=True)


def show_benchmark(folder: Path, key: str) -> None:
    """A benchmark results folder: the ranked table, findings, chart, who got what, report."""
    from experiments.app.comparison import (
        answer,
        findings,
        ranked_table,
        results,
        scenario_words,
        shown,
        who_got_what,
    )

    res = results(folder)
    if res is None:
        st.info("No results in this folder yet (its summary.json is written last).")
        return
    seeds = res.summary.get("seeds")
    seeds = seeds if isinstance(seeds, list) else []
    st.subheader("The answer")
    for line in answer(res):
        st.markdown(f"- {line}")
    st.subheader("Ranked by incremental profit")
    st.caption(
        f"{shown(folder)}: {scenario_words(res)}, seeds {', '.join(map(str, seeds))}. Money "
        "over the whole horizon; incremental = against sending nothing to the same simulated "
        "customers."
        + (" One seed: no 95% intervals (2 seeds or more give them)." if len(seeds) == 1 else "")
    )
    money_columns = ("incremental profit", "spend")
    st.dataframe(
        ranked_table(res),
        hide_index=True,
        key=f"board-{key}",
        column_config={
            c: st.column_config.NumberColumn(c, format="localized") for c in money_columns
        },
    )
    with st.expander("More from the report"):
        for line in findings(res):
            st.markdown(f"- {findings_markdown(line)}")
    chart = folder / "plots" / "incremental_profit.png"
    if chart.exists():
        st.image(str(chart), caption="Incremental profit with 95% intervals")
    st.subheader("Who got which offer")
    st.caption(
        "Messages sent per run, by policy and offer: sends, not customers (a policy decides "
        "every week, so one customer may get the same offer many times)."
    )
    tabs = st.tabs(["by segment", "by stated reason (exit survey)", "by hidden pain point"])
    for tab, by in zip(tabs, ("segment", "stated_reason", "pain_point"), strict=True):
        with tab:
            table = who_got_what(res, by)
            if table.empty:
                st.write("No policy sent anything.")
            else:
                st.dataframe(table, key=f"mix-{by}-{key}")
    show_report(folder, key)


def pick_run(d: Draft, key: str, command: str = "benchmark", quick_choice: bool = True) -> Any:
    """The policies, blanket offers, seeds and budgets a run compares (a
    ``comparison.Spec``; None while the draft has problems)."""
    from agents.base import NOTHING
    from experiments.app.comparison import (
        DEFAULT_POLICIES,
        MY_PLAYBOOK,
        PLAYBOOK_FIELDS,
        SLOW,
        Spec,
        policies,
    )

    cfg = settings()
    saved = st.session_state.setdefault("run_choices", {})  # shared by the pages (and reloads)
    offered = policies(cfg.config_dir)
    words = {p.name: p.words for p in offered}
    yours = {p.name: p.target for p in offered if p.source == "yours"}

    def label(name: str) -> str:
        slow = f" (slow: {SLOW[name]})" if name in SLOW else ""
        return f"{name} (yours: runs {yours[name]})" if name in yours else name + slow

    chosen = st.multiselect(
        "Policies",
        [p.name for p in offered],
        default=[p for p in saved.get("policies", DEFAULT_POLICIES) if p in words],
        format_func=label,
        help="Each policy's description is below. Policies of yours come from the agent/ folder "
        f"of {cfg.config_dir}: choosing one runs its code.",
        key=f"policies-{key}",
    )
    with st.expander("What these policies are"):
        for name in chosen or []:
            st.markdown(f"**{name}**: {words[name]}")
        if not chosen:
            st.write("Choose policies above: each is described here.")
    offers = list(d.catalogue.names) if d.catalogue is not None else []
    blankets = st.multiselect(
        "Blanket campaigns: one offer to every lapsed customer, at every weekly decision "
        "(one policy per offer chosen)",
        offers,
        default=[
            o
            for o in saved.get("blankets", [o for o in offers if o.startswith("discount")][:1])
            if o in offers
        ],
        key=f"blankets-{key}",
    )
    playbook: dict[str, Any] | None = None
    with st.expander("Your own playbook: an offer per stated reason (optional)"):
        st.caption(
            "A rule a strategist writes: customers lapsed for a while get the offer set for "
            "the reason they gave in the exit survey (most give none). 'nothing' leaves them "
            f"alone: e.g. a discount for those who said price, nothing for the rest. It runs as "
            f"{MY_PLAYBOOK}, beside the policies above."
        )
        before = saved.get("playbook") or {}
        on = st.toggle("Run my playbook too", value=bool(before), key=f"mine-{key}")
        if on and offers:
            choices = [*offers, NOTHING]
            cols = st.columns(3)
            rules: dict[str, Any] = {
                field: cols[i % 3].selectbox(
                    f"Customers who {who}",
                    choices,
                    index=choices.index(before.get(field, NOTHING))
                    if before.get(field, NOTHING) in choices
                    else len(offers),
                    key=f"pb-{field}-{key}",
                )
                for i, (field, who) in enumerate(PLAYBOOK_FIELDS.items())
            }
            rules["min_recency_days"] = st.number_input(
                "Only after this many days without a visit",
                0,
                365,
                int(before.get("min_recency_days", 28)),
                key=f"pb-days-{key}",
            )
            playbook = rules
    left, right = st.columns(2)
    seeds = left.slider(
        "Seeds (repeats on fresh customers: more, narrower intervals)",
        1,
        10,
        int(saved.get("seeds", 3)),
        key=f"seeds-{key}",
    )
    quick = bool(saved.get("quick", True))
    if quick_choice:
        quick = right.toggle(
            "Quick training budgets (as experiment=quick)",
            value=quick,
            key=f"quick-{key}",
            help="Learned policies train briefly: minutes become seconds, results weaker.",
        )
    saved.update(policies=chosen, blankets=blankets, seeds=seeds, playbook=playbook)
    if quick_choice:
        saved["quick"] = quick
    if not chosen and not blankets and playbook is None:
        st.warning("Choose at least one policy.")
        return None
    if d.scenario is None or d.catalogue is None:
        return None
    return Spec(
        scenario=d.scenario,
        preset=d.preset,
        catalogue=d.catalogue,
        policies=tuple(chosen),
        blankets=tuple(blankets),
        seeds=tuple(range(1, seeds + 1)),
        quick=quick,
        user_conf=cfg.config_dir,
        user_policies=yours,
        command=command,
        playbook=playbook,
    )


def launch(kind: str, make_args: Callable[[Path], list[str]]) -> jobs.Job | None:
    """Start a run of ``kind``: a new folder of this session, its arguments from
    ``make_args(folder)`` (which makes every check first), the job. A refusal is shown with
    its message and the folder removed (it held only the run's config files)."""
    import shutil

    folder = jobs.new_folder(settings().runs, session(), kind)
    try:
        args = make_args(folder)
    except ValueError as err:
        shutil.rmtree(folder, ignore_errors=True)
        st.error(str(err))
        return None
    job = jobs.start(kind, args, folder, session())
    if "run_choices" in st.session_state:  # the pages' choices as the run started: a reload
        (folder / CHOICES).write_text(json.dumps(st.session_state["run_choices"]))
    return job


def session_jobs(*kinds: str) -> list[jobs.Job]:
    """This session's runs of ``kinds``, newest first."""
    return [j for j in jobs.jobs_of(settings().runs, session()) if j.kind in kinds]


def latest(kind: str) -> tuple[jobs.Job, jobs.Status] | None:
    """This session's latest run of ``kind``, shown with its progress (or what stopped it)."""
    mine = session_jobs(kind)
    if not mine:
        return None
    st.divider()
    if len(mine) > 1:
        st.caption(f"Your latest of {len(mine)} in this session (Long runs lists every run).")
    return mine[0], job_panel(mine[0], kind)


def show_run(kind: str, folder: Path, key: str) -> None:
    """A finished run's results as its page shows them, by kind."""
    import json

    if kind in ("benchmark", "compare"):
        show_benchmark(folder, key)
    elif kind == "stress":
        summary = json.loads((folder / "summary.json").read_text())
        if summary.get("recommendation"):
            st.success(findings_markdown(str(summary["recommendation"])).replace("`", ""))
        show_files(folder, key)
    elif kind == "plan":
        from experiments.jobs.plan import summary_lines

        plan = json.loads((folder / "plan.json").read_text())
        for line in summary_lines(plan):
            st.markdown(f"- {line}")
        with st.expander("plan.json"):
            st.json(plan)
    elif kind == "ope":
        from experiments.app.ope_run import show

        show(folder, key)
    elif kind == "score":
        from experiments.app.scores_run import show as show_scores

        show_scores(folder, key)
    else:
        show_files(folder, key)
