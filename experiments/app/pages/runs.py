"""Long runs and past runs: the full benchmark and sweeps in a process of their own, and
every results folder under outputs/."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import streamlit as st

from experiments.app import comparison, ui
from experiments.app.history import past_runs
from experiments.app.workspace import choices

cfg = ui.settings()
st.title("Long runs and past runs")
st.write(
    "Long runs go through the same command line a researcher uses, in a process of their "
    "own: this page stays responsive, you can cancel, and a run carries on if you reload the "
    "page or close the browser (come back with the same address to see it)."
)

KINDS = {
    "mine": "A benchmark of this session's scenario and offers (the Scenario and Offers "
    "pages) with the policies you choose, full training budgets",
    "benchmark": "The full benchmark (the default agents, 50,000 customers x 1 year x 5 "
    "seeds: about 15 minutes and more on 2 cores)",
    "sweep": "A sweep (Hydra multirun) of an experiment file, e.g. sweep_budget",
}
kind = st.radio("What to run", list(KINDS), format_func=lambda k: KINDS[k], key="long-kind")
extra_text = st.text_input(
    "Further settings (KEY=VALUE as on the command line, optional)",
    placeholder="e.g. seeds=[1,2] scenario.users=20000",
    key="long-extra",
    help="Any override of `winback benchmark --help`; checked before anything starts.",
)
spec = None
if kind == "mine":
    d = ui.checked_draft()
    spec = ui.pick_run(d, "long", quick_choice=False)  # full training budgets
experiment = None
if kind == "sweep":
    names = [c.name for c in choices("experiment", cfg.config_dir)]
    experiment = st.selectbox(
        "Experiment", names, index=names.index("sweep_budget") if "sweep_budget" in names else 0
    )


def long_args(folder: Path) -> list[str]:
    extra = shlex.split(extra_text)
    if kind == "mine":
        if spec is None:
            raise ValueError("the draft has problems (above); allowed: a draft without")
        return comparison.check(replace(spec, quick=False, extra=tuple(extra)), folder)
    return comparison.check_plain(kind, experiment, extra, folder, cfg.config_dir)


if st.button("Start", type="primary", key="long-start") and ui.launch(
    "sweep" if kind == "sweep" else "benchmark", long_args
):
    st.rerun()

mine = ui.session_jobs("benchmark", "sweep")
if mine:
    st.subheader("Your long runs in this session")
    for job in mine:
        with st.container(border=True):
            st.markdown(f"**{job.kind}**, started {job.started[:19].replace('T', ' ')}")
            status = ui.job_panel(job, f"long-{job.folder.name}")
            if status.state == "finished":
                st.success(f"Finished: {comparison.shown(job.folder)}")

st.subheader("Past runs")
runs = past_runs(cfg.out)
if not runs:
    st.write(f"No finished runs under `{cfg.out}` yet.")
else:
    st.caption(f"Every finished run under `{cfg.out}` (the command line's too), newest first.")
    pick = st.selectbox(
        "Open", range(len(runs)), format_func=lambda i: runs[i].label, key="past-pick"
    )
    run = runs[pick]
    ui.show_run(run.kind, run.folder, f"past-{pick}")
