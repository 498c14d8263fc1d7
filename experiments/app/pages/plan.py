"""Live test plan: the A/B test that would confirm a policy before a full rollout
(``winback plan``): customers per arm, weeks to enrol, what the holdout costs."""

from __future__ import annotations

import streamlit as st

from experiments.app import comparison, ui
from experiments.jobs.benchmark import REFERENCES

cfg = ui.settings()
st.title("Live test plan")
st.write(
    "Before rolling a policy out, a live test confirms it on real customers: half get the "
    "policy, half what you do today (or nothing). From both arms' simulated outcomes this "
    "sizes the test for 80% power, says how long enrolment takes at your flow of lapsed "
    "customers, and what CUPED saves. Set the Scenario page's customers to your own base."
)
d = ui.checked_draft()
last = ui.session_jobs("compare")
ran = comparison.results(last[0].folder) if last else None
mine = comparison.playbook_of(last[0].folder) if last else None
if ran is not None:  # the policies of your latest comparison, the best a company could run first
    agents = ran.summary["agents"]
    arms = [a for a in ran.board.agent if not agents[a].get("hidden") and a != "no_offer"]
    st.caption(f"The policies of your latest comparison ({last[0].folder.name}), best first.")
else:
    offers = list(d.catalogue.names) if d.catalogue is not None else []
    built_in = [p.name for p in comparison.policies(cfg.config_dir)]
    arms = [n for n in built_in if n not in (*REFERENCES, "no_offer")]
    arms += [f"blanket_{o}" for o in offers]
    st.caption("Run a comparison first to plan the test of its winner; or choose here.")
left, right = st.columns(2)
policy = left.selectbox("Policy to test", arms, key="plan-policy")
against = right.selectbox(
    "Against (what customers get today)",
    ["no_offer", *[a for a in arms if a != policy]],
    format_func=lambda a: "nothing (no_offer)" if a == "no_offer" else a,
    key="plan-against",
)
left, right = st.columns(2)
metric = left.radio(
    "Measured on",
    ["profit", "reactivation"],
    horizontal=True,
    help="profit per customer over the window, or the share who come back",
)
weeks = right.slider("Follow each customer for ... weeks", 4, 26, 8, key="plan-weeks")
st.caption(
    "The test judges each customer over these weeks after they enter; the comparison judged "
    "the whole horizon. A policy whose gains come late (a customer back for months) can look "
    "worse in a short test than in the comparison: follow customers longer, or measure "
    "reactivation."
)
if st.button("Plan the test", type="primary", disabled=d.scenario is None or d.catalogue is None):
    chosen = [a for a in (policy, against) if a != "no_offer"]
    spec = comparison.Spec(
        scenario=d.scenario,  # type: ignore[arg-type]
        preset=d.preset,
        catalogue=d.catalogue,  # type: ignore[arg-type]
        policies=tuple(
            a for a in chosen if not a.startswith("blanket_") and a != comparison.MY_PLAYBOOK
        ),
        blankets=tuple(a.removeprefix("blanket_") for a in chosen if a.startswith("blanket_")),
        seeds=(1,),
        user_conf=cfg.config_dir,
        command="plan",
        extra=(
            f"plan.policy={policy}",
            f"plan.against={against}",
            f"plan.metric={metric}",
            f"plan.follow_days={7 * weeks}",
        ),
        playbook=mine if comparison.MY_PLAYBOOK in chosen else None,
    )
    ui.launch("plan", lambda folder: comparison.check(spec, folder))

shown = ui.latest("plan")
if shown and shown[1].state == "finished" and (shown[0].folder / "plan.json").exists():
    ui.show_run("plan", shown[0].folder, "plan")
