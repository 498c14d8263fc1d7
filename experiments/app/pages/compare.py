"""Compare policies: run a quick comparison on the scenario and offers of the other pages
and read the answer."""

from __future__ import annotations

import streamlit as st

from experiments.app import comparison, ui

st.title("Compare policies")
d = ui.draft()
if d.scenario is not None:
    s = d.scenario
    st.write(
        f"On **{s.name}** ({s.n_users:,} customers, {s.horizon_days} days; change it on the "
        f"Scenario page) with **{len(d.table)} offers** (the Offers page). Each policy runs on "
        "the same simulated customers as doing nothing, seed by seed, so the difference is the "
        "policy's own."
    )
problems = ui.draft_problems(d)
for message in problems:
    st.error(message)

spec = ui.pick_run(d, "compare")
if st.button("Run the comparison", type="primary", disabled=bool(problems) or spec is None):
    job = ui.launch("compare", lambda folder: comparison.check(spec, folder))
    if job is not None:
        st.session_state["compare_shown"] = str(job.folder)

mine = ui.session_jobs("compare")
if mine:
    st.divider()
    labels = {str(j.folder): f"{j.started[:19].replace('T', ' ')} ({j.folder.name})" for j in mine}
    shown = st.session_state.get("compare_shown", str(mine[0].folder))
    keys = list(labels)
    pick = st.selectbox(
        "Your comparisons in this session",
        keys,
        index=keys.index(shown) if shown in keys else 0,
        format_func=lambda k: labels[k],
    )
    job = next(j for j in mine if str(j.folder) == pick)
    status = ui.job_panel(job, "compare")
    if status.state == "finished":
        ui.show_benchmark(job.folder, "compare")
