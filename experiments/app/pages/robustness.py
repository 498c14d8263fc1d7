"""Robustness: the chosen policies across worlds where the response model is wrong in
plausible ways (``winback stress``), on this session's scenario and offers."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from experiments.app import comparison, ui

cfg = ui.settings()
st.title("Robustness")
st.write(
    "The comparison ranks policies in one world: the simulator's. Here each policy runs in "
    "many worlds whose offer lifts, price sensitivity, deal shocks, fatigue, opt-outs, survey "
    "accuracy and release cadence are drawn from plausible ranges (world 0 is the nominal "
    "one). The robust choice is the policy with the best 10th percentile: it still does well "
    "when the model is wrong."
)
d = ui.checked_draft()
spec = ui.pick_run(d, "stress", command="stress")
worlds = st.slider("Worlds", 3, 40, 8, key="stress-worlds", help="20 is the command's default")
if spec is not None:
    runs = worlds * len(spec.seeds) * (len(spec.agents) + 1)  # each policy and the control
    size = spec.scenario.n_users * spec.scenario.horizon_days / (10_000 * 182)
    st.caption(
        f"{runs:,} simulations ({worlds} worlds x {len(spec.seeds)} seeds x "
        f"{len(spec.agents)} policies and the control): roughly {runs * 0.5 * size / 60:.0f} "
        "minutes on 2 cores (about half a second each at 10,000 customers x half a year), "
        "plus training."
    )
if st.button("Run the stress test", type="primary", disabled=spec is None):
    stress = replace(spec, extra=(f"worlds={worlds}",))
    ui.launch("stress", lambda folder: comparison.check(stress, folder))

shown = ui.latest("stress")
if shown and shown[1].state == "finished":
    ui.show_run("stress", shown[0].folder, "stress")
