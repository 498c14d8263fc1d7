"""Offers: the catalogue as an editable table, what each offer's lift does in business
terms, and a copy saved for the CLI."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from experiments.app import ui
from experiments.app.offers_table import HELP, SHOWN, copy_row
from experiments.app.workspace import save_offers
from sim.constants import CHANNELS, OFFER_KINDS

cfg = ui.settings()
st.title("Offers")
st.write(
    "What the company can send. Edit any cell; add a row at the bottom of the table, delete "
    "one by selecting it (left edge) and pressing Delete, or copy one below. Nothing runs while "
    "a row has a problem: each is listed under the table, in the words the command line uses."
)

draft = ui.draft()
state = st.session_state
ui.start_from(
    "offers", draft.offers_name, ui.set_offers, "the page keeps the table below", "offers_pick"
)

editor_key = f"offers-editor-{state['offers_version']}"
if editor_key not in state:  # first show of this table (or back from another page): the latest
    state["offers_base"] = state["offers_table"]
edited = st.data_editor(
    state["offers_base"],
    num_rows="dynamic",
    hide_index=True,
    column_order=SHOWN,
    column_config={
        "name": st.column_config.TextColumn("name", help=HELP["name"], required=True),
        "kind": st.column_config.SelectboxColumn("kind", options=OFFER_KINDS, help=HELP["kind"]),
        "channel": st.column_config.SelectboxColumn(
            "channel", options=CHANNELS, help=HELP["channel"]
        ),
        **{
            c: st.column_config.NumberColumn(c, help=HELP[c])
            for c in ("cost_per_send", "discount", "duration_days", "trial_days", "support_cost")
        },
        "lift": st.column_config.NumberColumn("lift", help=HELP["lift"], format="%.3g"),
        "eligible": st.column_config.TextColumn("eligible", help=HELP["eligible"]),
    },
    key=editor_key,
)
state["offers_table"] = pd.DataFrame(edited).reset_index(drop=True)
now = ui.draft()
for position, message in now.offer_problems.items():
    st.error(f"{ui.offer_row(now.table, position)}: {message}")

left, right = st.columns(2)
with left:
    rows = [str(n) for n in now.table["name"]]
    if rows:
        which = st.selectbox("Offer", range(len(rows)), format_func=lambda i: rows[i], key="row")
        copy, delete = st.columns(2)
        if copy.button("Copy it below", key="copy"):
            ui.set_table(copy_row(now.table, which))
            st.rerun()
        if delete.button("Delete it", key="delete"):
            ui.set_table(now.table.drop(index=which))
            st.rerun()

# ------------------------------------------------------------------ effects
st.subheader("What each lift does")
st.write(
    "A lift is the simulator's dial; here is what it means for the business on this "
    "scenario: *extra returns per 1,000 reached*, the customers back within 28 days per "
    "1,000 sent the offer beyond those who would have come back anyway, with a 95% interval. "
    "It is measured as only a simulator can: the same 100,000 simulated customers, seen "
    "lapsed on day 0, carried on with and without the offer (a real campaign compares "
    "different customers, a holdout, and is far noisier)."
)
effect_key = ("effects", repr(now.scenario), repr(now.catalogue))
if (
    now.scenario is not None
    and now.catalogue is not None
    and st.button(
        "Measure what each offer does (about a second; a minute the first time after installing)",
        key="measure",
    )
):
    from experiments.evidence.offer_effect import effects

    with st.spinner("Simulating the campaign ..."):
        state["effects"] = (effect_key, effects(now.scenario, now.catalogue))
measured = state.get("effects")
if measured and measured[0] == effect_key:
    st.dataframe(
        pd.DataFrame(
            {
                "offer": [e.offer for e in measured[1]],
                "lift": [e.lift for e in measured[1]],
                "extra returns per 1,000 reached": [round(e.per_1000, 1) for e in measured[1]],
                "95% interval": [f"{e.low:+.1f} to {e.high:+.1f}" for e in measured[1]],
                "customers reached": [e.reached for e in measured[1]],
                "moves with its lift": [e.moves_with_lift for e in measured[1]],
            }
        ),
        hide_index=True,
    )
elif measured:
    st.caption("The offers or scenario changed since the last measurement: measure again.")

if now.ready and now.catalogue is not None and now.scenario is not None:
    with st.form("by-effect"):
        st.write("Set an offer by its effect instead: the lift that gives it is found for you.")
        offer = st.selectbox("Offer", now.catalogue.names, key="effect_offer")
        target = st.number_input(
            "Extra returns within 28 days per 1,000 reached",
            value=20.0,
            step=5.0,
            key="effect_target",
        )
        if st.form_submit_button("Find the lift"):
            from experiments.evidence.offer_effect import lift_for

            try:
                with st.spinner("Searching for the lift (about a dozen quick simulations) ..."):
                    found = lift_for(now.scenario, now.catalogue, offer, float(target))
            except ValueError as err:
                st.error(str(err))
            else:
                table = now.table.copy()
                table.loc[table["name"] == offer, "lift"] = round(found.lift, 4)
                ui.set_table(table)
                st.success(
                    f"{offer}: lift {found.lift:.3g} gives {found.per_1000:+.1f} extra returns "
                    f"per 1,000 reached ({found.low:+.1f} to {found.high:+.1f}); table updated."
                )

# ------------------------------------------------------------------ save
st.subheader("Save")
with st.form("save-offers"):
    st.write(f"Save the catalogue as `{cfg.config_dir}/offers/NAME.yaml` for the command line.")
    name = st.text_input("Save as", placeholder="e.g. spring_offers")
    overwrite = st.checkbox("Replace a file of that name")
    if st.form_submit_button("Save offers"):
        if now.catalogue is None:
            st.error("Fix the problems above first: nothing was saved.")
        else:
            try:
                path = save_offers(now.catalogue, name, cfg.config_dir, overwrite)
            except ValueError as err:
                st.error(str(err))
            else:
                st.success(
                    f"Saved {path}. From a terminal: `winback benchmark --config-dir "
                    f"{cfg.config_dir} offers={name}`"
                )
