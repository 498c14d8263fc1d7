"""Scenario: pick a built-in or your own scenario and set the knobs a strategist knows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from experiments.app import ui
from experiments.app.scenario_form import DAYS, FIELDS, USERS, cadence
from experiments.app.workspace import save_scenario

cfg = ui.settings()
st.title("Scenario")
st.write(
    "The simulated business your question is about. Start from a built-in scenario or one of "
    f"yours (the `scenario/` folder of `{cfg.config_dir}`, the folder `winback benchmark "
    f"--config-dir {cfg.config_dir}` reads), then change what differs."
)

draft = ui.draft()
ui.start_from(
    "scenario", draft.base_name, ui.set_base, f"the page keeps {draft.base_name}", "scenario_pick"
)

state = st.session_state
form = state["form"]
v = state["form_version"]
base = draft.base
slots: dict[
    str, Any
] = {}  # field -> the place beside it for its message (filled once the form is read)


def problem(field: str) -> None:
    slots[field] = st.empty()


st.subheader("Population and horizon")
left, right = st.columns(2)
with left:
    users = st.number_input(
        FIELDS["users"].label,
        value=int(form.users) if str(form.users).isdigit() else USERS[0],
        step=1_000,
        help=FIELDS["users"].help,
        key=f"users-{v}",
    )
    st.caption(FIELDS["users"].help)
    problem("users")
with right:
    days = st.number_input(
        FIELDS["days"].label,
        value=int(form.days) if str(form.days).isdigit() else DAYS[0],
        step=7,
        help=FIELDS["days"].help,
        key=f"days-{v}",
    )
    st.caption(FIELDS["days"].help)
    problem("days")

st.subheader("Prices")
prices = {}
columns = st.columns(len(form.prices))
for column, (plan, typed) in zip(columns, form.prices.items(), strict=True):
    with column:
        prices[plan] = st.text_input(
            f"{plan}: {FIELDS['price'].label.lower()}",
            value=str(typed),
            help=FIELDS["price"].help,
            key=f"price-{plan}-{v}",
        )
        problem(f"price.{plan}")
st.caption(f"Monthly list prices, {FIELDS['price'].help}.")

st.markdown(f"**{FIELDS['price_change'].label}** ({FIELDS['price_change'].help})")
if f"changes-{v}" not in state:  # first show (or back from another page): the latest rows
    state["changes_base"] = pd.DataFrame(
        form.price_changes, columns=["day", "plan", "monthly_price"]
    )
changes = st.data_editor(
    state["changes_base"],
    num_rows="dynamic",
    column_config={
        "day": st.column_config.NumberColumn("day", help="day of the horizon it starts"),
        "plan": st.column_config.SelectboxColumn("plan", options=base.plan_names),
        "monthly_price": st.column_config.NumberColumn("new monthly price"),
    },
    key=f"changes-{v}",
    hide_index=True,
)
problem("price_changes")

st.subheader("Content calendar")
slate = cadence(base)
every = st.text_input(
    FIELDS["release_every"].label,
    value="" if form.release_every is None else str(form.release_every),
    placeholder=f"the scenario's slate: {slate}",
    help=FIELDS["release_every"].help,
    key=f"every-{v}",
)
st.caption(f"{FIELDS['release_every'].help}. The scenario's own slate: {slate}.")
problem("release_every")

st.subheader("Customer mix")
shares = {}
seg_columns = st.columns(len(form.shares))
for column, seg in zip(seg_columns, base.segments, strict=True):
    with column:
        shares[seg.name] = st.number_input(
            f"{seg.name}: {FIELDS['segment_share'].label.lower()}",
            value=float(form.shares[seg.name]),
            step=1.0,
            help=FIELDS["segment_share"].help,
            key=f"share-{seg.name}-{v}",
        )
        main_pain = max(seg.pain_mix, key=lambda k: seg.pain_mix[k])
        st.caption(f"mostly '{main_pain}' problems")
        problem(f"share.{seg.name}")
st.caption(FIELDS["segment_share"].help)

state["form"] = replace(
    form,
    users=users,
    days=days,
    prices=prices,
    price_changes=changes.to_dict("records"),
    release_every=every,
    shares=shares,
)
now = ui.draft()
for field, message in now.scenario_problems.items():
    if field in slots:
        slots[field].error(message)
if now.scenario is None:
    problem_list = "\n".join(f"- {m}" for m in now.scenario_problems.values())
    st.error(f"Nothing runs until this is fixed:\n{problem_list}")
else:
    s = now.scenario
    st.success(
        f"Ready: {s.n_users:,} customers of {s.name} over {s.horizon_days} days, "
        f"{len(s.price_changes)} price change(s), {len(s.releases)} releases."
    )
    with st.form("save-scenario"):
        st.write(f"Save it as a scenario file in `{cfg.config_dir}/scenario/` (for the CLI).")
        name = st.text_input("Save as", placeholder="e.g. price_rise")
        overwrite = st.checkbox("Replace a file of that name")
        if st.form_submit_button("Save scenario"):
            try:
                path = save_scenario(s, now.preset, name, cfg.config_dir, overwrite)
            except ValueError as err:
                st.error(str(err))
            else:
                st.success(
                    f"Saved {path}. From a terminal: `winback benchmark --config-dir "
                    f"{cfg.config_dir} scenario={name}`"
                )
