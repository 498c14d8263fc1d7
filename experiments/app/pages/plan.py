"""Live test plan: the A/B test that would confirm a policy before a full rollout
(``winback plan``): customers per arm, weeks to enrol, what the holdout costs."""

from __future__ import annotations

import json

import streamlit as st

from experiments.app import comparison, ui
from experiments.jobs.benchmark import REFERENCES
from experiments.jobs.plan import summary_lines

cfg = ui.settings()
st.title("Live test plan")
st.write(
    "Before rolling a policy out, a live test confirms it on real customers: half get the "
    "policy, half what you do today (or nothing). From both arms' simulated outcomes this "
    "sizes the test for 80% power, says how long enrolment takes at your flow of lapsed "
    "customers, and what CUPED saves. Set the Scenario page's customers to your own base."
)
d = ui.draft()
for message in ui.draft_problems(d):
    st.error(message)
names = [p.name for p in comparison.policies(cfg.config_dir) if p.name not in REFERENCES]
offers = list(d.catalogue.names) if d.catalogue is not None else []
arms = names + [f"blanket_{o}" for o in offers]
left, right = st.columns(2)
policy = left.selectbox(
    "Policy to test", arms, index=arms.index("playbook") if "playbook" in arms else 0
)
against = right.selectbox("Against", ["no_offer", *[a for a in arms if a != policy]])
metric = st.radio(
    "Measured on",
    ["profit", "reactivation"],
    horizontal=True,
    help="profit per customer over the window, or the share who come back",
)
if st.button("Plan the test", type="primary", disabled=d.scenario is None or d.catalogue is None):
    chosen = [a for a in (policy, against) if a != "no_offer"]
    spec = comparison.Spec(
        scenario=d.scenario,  # type: ignore[arg-type]
        preset=d.preset,
        catalogue=d.catalogue,  # type: ignore[arg-type]
        policies=tuple(a for a in chosen if not a.startswith("blanket_")),
        blankets=tuple(a.removeprefix("blanket_") for a in chosen if a.startswith("blanket_")),
        seeds=(1,),
        user_conf=cfg.config_dir,
        command="plan",
        extra=(f"plan.policy={policy}", f"plan.against={against}", f"plan.metric={metric}"),
    )
    ui.launch("plan", lambda folder: comparison.check(spec, folder))

shown = ui.latest("plan")
if shown and shown[1].state == "finished" and (shown[0].folder / "plan.json").exists():
    plan = json.loads((shown[0].folder / "plan.json").read_text())
    for line in summary_lines(plan):
        st.markdown(f"- {line}")
    with st.expander("plan.json"):
        st.json(plan)
