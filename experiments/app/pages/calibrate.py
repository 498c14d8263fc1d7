"""Calibrate from a log: fit the simulator to your own event log (``winback calibrate``)
and use the fitted scenario on the other pages."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from experiments.app import ui
from experiments.cli.parsers import CALIBRATION_FORMATS

cfg = ui.settings()
st.title("Calibrate from a log")
st.write(
    "Upload your event log (CSV or Parquet, the schema in the README's Calibration chapter: "
    "purchases or subscriptions, sessions, offers with campaigns and holdouts). The fit runs "
    "as `winback calibrate` in a process of its own; its report says how well the simulator "
    f"fits your customers. Saved under a name, the scenario appears in `{cfg.config_dir}` "
    "and on the Scenario page."
)
upload = st.file_uploader("Event log", type=["csv", "parquet"], key="log")
fmt = st.selectbox("Format", CALIBRATION_FORMATS, help="events: the project's event-log schema")
holdout = st.text_input("Hold out from (optional date, e.g. 2024-10-01)", key="holdout")
name = st.text_input("Save the fitted scenario as (optional)", placeholder="e.g. mine", key="save")


def calibrate_args(folder: Path) -> list[str]:
    if holdout and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", holdout.strip()):
        raise ValueError(f"--holdout-from: {holdout!r}; allowed: a date as YYYY-MM-DD")
    folder.mkdir(parents=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", upload.name) if upload else "log.csv"
    log = folder / safe
    log.write_bytes(upload.getvalue() if upload else b"")
    args = ["calibrate", str(log), "--format", fmt, "--out", str(folder / "results")]
    if holdout:
        args += ["--holdout-from", holdout.strip()]
    if name:
        args += ["--save-scenario", name, "--config-dir", str(cfg.config_dir)]
    return args


if st.button("Calibrate", type="primary", disabled=upload is None):
    ui.launch("calibrate", calibrate_args)

shown = ui.latest("calibrate")
if shown and shown[1].state == "finished":
    st.success("Fitted. The report below says how well; the scenario is on the Scenario page.")
    ui.show_files(shown[0].folder / "results", "calibrate")
