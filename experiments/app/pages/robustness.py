"""Robustness: the chosen policies across worlds where the response model is wrong in
plausible ways (``winback stress``), on this session's scenario and offers."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import streamlit as st

from experiments.app import comparison, jobs, ui

cfg = ui.settings()
sid = ui.session()
st.title("Robustness")
st.write(
    "The comparison ranks policies in one world: the simulator's. Here each policy runs in "
    "many worlds whose offer lifts, price sensitivity, deal shocks, fatigue, opt-outs, survey "
    "accuracy and release cadence are drawn from plausible ranges (world 0 is the nominal "
    "one). The robust choice is the policy with the best 10th percentile: it still does well "
    "when the model is wrong."
)
d = ui.draft()
for message in ui.draft_problems(d):
    st.error(message)
spec = ui.pick_run(d, "stress", command="stress")
worlds = st.slider("Worlds", 3, 40, 8, key="stress-worlds", help="20 is the command's default")
if st.button("Run the stress test", type="primary", disabled=spec is None):
    folder = jobs.new_folder(cfg.runs, sid, "stress")
    try:
        args = comparison.check(replace(spec, extra=(f"worlds={worlds}",)), folder)
    except ValueError as err:
        shutil.rmtree(folder, ignore_errors=True)
        st.error(str(err))
    else:
        jobs.start("stress", args, folder, sid)

mine = [j for j in jobs.jobs_of(cfg.runs, sid) if j.kind == "stress"]
if mine:
    st.divider()
    job = mine[0]
    st.caption(
        f"Your latest stress test in this session ({len(mine)} in all: Long runs lists them)."
    )
    status = ui.job_panel(job, "stress")
    if status.state == "finished":
        summary = json.loads((job.folder / "summary.json").read_text())
        if summary.get("recommendation"):
            st.success(str(summary["recommendation"]))
        ui.show_files(job.folder, "stress")
