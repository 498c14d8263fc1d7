"""Who is about to leave: each customer's chance of leaving, the likeliest reason and their
value, measured against what really happened, with segments to act on (``winback score``);
a company's own log scored with a model fitted here."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import streamlit as st

from experiments.app import jobs, scores_run, ui
from experiments.app.comparison import shown
from experiments.files import safe_name

cfg = ui.settings()
st.title("Who is about to leave")
st.write(
    "Which customers are likely to stop visiting or cancel soon, why, and what they are worth. "
    "A model learns this from simulated customers of your scenario, whose futures the "
    "simulator knows, then scores others and is measured against what really happened to "
    "them, beside the rules a company already has (days since the last visit, the exit "
    "survey). Customers are grouped into segments you can act on: value x risk x reason. "
    "The model can then score your own customers from your event log. It runs as "
    "`winback score` in a process of its own."
)

# ------------------------------------------------------------------ 1. whose customers
st.subheader("1. Whose customers")
SOURCES = {
    "simulated": "Simulated customers of this session's scenario (to learn, and to see how "
    "well it works)",
    "log": "Your own customers: an event log, scored with a model from an earlier run",
}
source = st.radio("Customers", list(SOURCES), format_func=lambda s: SOURCES[s], key="score-source")
mine = ui.session_jobs("score")
finished = [j for j in mine if jobs.status(j).state == "finished"]
models = scores_run.model_runs([j.folder for j in finished])
missing: list[str] = []
req: scores_run.Request | None = None
upload = None
if source == "simulated":
    d = ui.checked_draft()
    if ui.draft_problems(d):
        missing.append("a scenario and offers without problems (the messages above)")
    scenario = d.scenario if d.scenario is not None else d.base
    st.caption(
        f"Scenario: **{d.base_name}** as set on the Scenario page ({scenario.business}); "
        "change it there."
    )
    left, right = st.columns(2)
    users = left.number_input(
        "Customers to score", 1_000, 1_000_000, 20_000, step=1_000, key="score-users"
    )
    train_users = right.number_input(
        "Customers to learn from", 1_000, 1_000_000, 20_000, step=1_000, key="score-train"
    )
    st.caption("20,000 and 20,000 take well under a minute; more customers, steadier figures.")
    version = st.session_state.get("form_version", 0)
    strengths = scenario.signals.strengths()
    with st.expander("How plainly your customers' behaviour shows why they leave (optional)"):
        st.caption(
            "For each reason, how much the behaviour a company logs says about it: 0 not at "
            "all (it varies for no reason), 1 plainly. The scenario's own values to start."
        )
        cols = st.columns(2)
        signals = {
            name: cols[i % 2].slider(
                words,
                0.0,
                1.0,
                float(strengths[name]),
                step=0.05,
                key=f"score-signal-{name}-{version}",
            )
            for i, (name, words) in enumerate(scores_run.SIGNALS.items())
        }
    req = scores_run.Request(
        scenario=d.scenario,
        preset=d.preset,
        catalogue=d.catalogue,
        signals=signals,
        users=int(users),
        train_users=int(train_users),
    )
else:
    upload = st.file_uploader(
        "Your event log (.csv or .parquet: one row per event with user_id, timestamp, "
        "event_type, amount, as for Calibrate from a log)",
        type=["csv", "parquet"],
        key="score-upload",
    )
    if upload is not None:
        problem = scores_run.upload_problem(upload.name, upload.getvalue())
        if problem:
            st.error(problem)
            missing.append("an event log (the message above)")
    else:
        missing.append("your event log (upload it above)")
    by_folder = {str(j.folder): j for j in finished}
    model_run = None
    if models:
        model_run = st.selectbox(
            "Score it with the model fitted in",
            models,
            format_func=lambda f: scores_run.run_label(
                by_folder[str(f)].argv, by_folder[str(f)].started
            ),
            key="score-model",
        )
        st.caption(
            "Your log is read with that run's scenario and offers: the closer that business is "
            "to yours (Calibrate from a log fits one to your log), the better the scores."
        )
    else:
        missing.append(
            "a model: run this page on simulated customers first (it fits the model your log "
            "is scored with)"
        )
    skip = st.checkbox(
        "Leave out the log's bad rows (they are counted in the report)", key="score-skip"
    )
    as_of = st.date_input(
        "Score your customers as they stood on (empty: the day after the log's last event)",
        value=None,
        key="score-as-of",
        help="Only the events before that day are read: score an earlier date to check the "
        "scores against what your customers did next.",
    )
    req = scores_run.Request(
        log=Path(safe_name(upload.name)) if upload is not None else None,
        model_run=model_run,
        skip_bad_rows=skip,
        as_of=as_of if isinstance(as_of, date) else None,
    )

# ------------------------------------------------------------------ 2. run
st.subheader("2. Run")
if missing:
    st.warning("To run, this page needs " + "; and ".join(missing) + ".")


def score_args(folder: Path) -> list[str]:
    if req is None:  # the button is disabled until the page has a request
        raise ValueError("the page has no request yet")
    request = req
    if upload is not None and request.log is not None:  # the upload saved in the run's folder
        folder.mkdir(parents=True)
        path = folder / request.log.name
        path.write_bytes(upload.getvalue())
        request = replace(request, log=path)
    return scores_run.check(request, folder)


if st.button("Find who is about to leave", type="primary", disabled=bool(missing), key="score-run"):
    job = ui.launch("score", score_args)
    if job is not None:
        st.session_state["score_shown"] = str(job.folder)
        mine = ui.session_jobs("score")

# ------------------------------------------------------------------ 3. the answer
if mine:
    st.divider()
    labels = [scores_run.run_label(j.argv, j.started) for j in mine]
    folders = [str(j.folder) for j in mine]
    wanted = st.session_state.get("score_shown", folders[0])
    pick = st.selectbox(
        "Your runs in this session (newest first)",
        range(len(mine)),
        index=folders.index(wanted) if wanted in folders else 0,
        format_func=lambda i: labels[i],
    )
    st.session_state["score_shown"] = folders[pick]
    job = mine[pick]
    status = ui.job_panel(job, "score")
    if status.state == "failed" and "bad row" in (status.error or ""):
        st.info(
            "The log's problems, line by line, are in the Log above. To score the rest, tick "
            "'Leave out the log's bad rows' (1. Whose customers) and run again."
        )
    if status.state == "finished":
        st.caption(f"Results: `{shown(job.folder / scores_run.RESULTS)}`")
        scores_run.show(job.folder / scores_run.RESULTS, "score")
