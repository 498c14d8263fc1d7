"""What your log says: a new policy's value estimated from the decisions a company logged
(``winback ope``), beside the simulator's prediction; a simulated company's log to try it
(``winback ope-log``)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from experiments.app import ope_run, ui
from experiments.app.comparison import shown
from experiments.app.workspace import choices, load_offers
from experiments.files import safe_name

cfg = ui.settings()
st.title("What your log says")
st.write(
    "Before running a new policy on real customers, ask what it would have earned on the "
    "decisions you already logged: who got which offer, with what chance, and what they "
    "spent afterwards. From a randomised log (each offer sent with a known probability, the "
    "`propensity`) off-policy evaluation re-weighs the logged outcomes toward what the new "
    "policy would have done. It runs as `winback ope` in a process of its own; the verdict "
    "says whether your log can answer the question at all."
)

# ------------------------------------------------------------------ 1. the log
st.subheader("1. The log")
SOURCES = {
    "upload": "Upload your log",
    "simulated": "A simulated company's log (to try the page without data)",
}
source = st.radio(
    "Log", list(SOURCES), format_func=lambda s: SOURCES[s], key="ope-source", horizontal=True
)
log: Path | None = None
upload = None
upload_problem: str | None = None
if source == "upload":
    upload = st.file_uploader(
        "Your log: a .npz (as `winback ope-log` writes), a decisions table or an event log "
        "with a `propensity` on its offer rows (.csv or .parquet)",
        type=["npz", "csv", "parquet"],
        key="ope-upload",
    )
    if upload is not None:
        upload_problem = ope_run.upload_problem(upload.name, upload.getvalue())
        if upload_problem:
            st.error(upload_problem)
else:
    left, mid, right = st.columns(3)
    logger = left.selectbox(
        "What the company did (the logging policy)",
        list(ope_run.LOGGERS),
        format_func=lambda k: f"{k}: {ope_run.LOGGERS[k]}",
        key="ope-logger",
    )
    users = mid.number_input("Customers", 500, 200_000, 5_000, step=500, key="ope-users")
    days = right.number_input("Days logged", 56, 730, 182, step=7, key="ope-days")
    st.caption(
        "The streaming preset's customers and offers; each lapsed customer gets one decision "
        "(an offer or nothing, drawn with a known chance), its outcome the profit over the "
        "28 days after it."
    )
    if st.button("Make a simulated log", key="ope-make"):
        made = ui.launch(
            "ope-log",
            lambda folder: ope_run.ope_log_argv(folder, logger, int(users), int(days)),
        )
        if made is not None:
            st.session_state.pop("ope-log-pick", None)  # the new one is shown
    logs = ui.session_jobs("ope-log")
    if logs:
        latest = logs[0]
        status = ui.job_panel(latest, "ope-log")
        ready = [j for j in logs if (j.folder / ope_run.SIMULATED).exists()]
        if ready:
            log_labels = [
                f"{j.started[:19].replace('T', ' ')}: "
                + " ".join(j.argv[j.argv.index("--logger") :])
                for j in ready
            ]
            pick = st.selectbox(
                "The simulated log to use",
                range(len(ready)),
                format_func=lambda i: log_labels[i],
                key="ope-log-pick",
            )
            log = ready[pick].folder / ope_run.SIMULATED
        elif status.state == "running":
            st.info("The log is being made; it is used here when it is ready.")

# ------------------------------------------------------------------ 2. the policies
st.subheader("2. The policies to evaluate")
WHERE = {
    "draft": "This session's scenario and offers (the Scenario and Offers pages)",
    "named": "A saved scenario and offers",
}
where = st.radio("Read the log with", list(WHERE), format_func=lambda w: WHERE[w], key="ope-where")
st.caption(
    "The policies decide from what the scenario lets a company see, and choose among its "
    "offers: they must be the log's (a simulated log: streaming's)."
)
d = None
named = ("streaming", "streaming")
catalogue_names: list[str] = []
problems: list[str] = []
if where == "draft":
    d = ui.checked_draft()
    problems += ui.draft_problems(d)
    catalogue_names = list(d.catalogue.names) if d.catalogue is not None else []
else:
    left, right = st.columns(2)
    scenarios = [c.name for c in choices("scenario", cfg.config_dir)]
    offer_sets = [c.name for c in choices("offers", cfg.config_dir)]
    named = (
        left.selectbox("Scenario", scenarios, index=scenarios.index("streaming"), key="ope-sc"),
        right.selectbox("Offers", offer_sets, index=offer_sets.index("streaming"), key="ope-of"),
    )
    try:
        catalogue_names = list(load_offers(named[1], cfg.config_dir).names)
    except ValueError as err:
        problems.append(f"offers {named[1]}: {err}")
        st.error(problems[-1])

candidates = ope_run.offered(cfg.config_dir, catalogue_names)
words = {c.name: c.words for c in candidates}
yours = {c.name: c.target for c in candidates if c.target}
chosen = st.multiselect(
    "Policies",
    list(words),
    default=[p for p in ("playbook", "blanket_discount_30") if p in words],
    format_func=lambda n: f"{n} (yours: runs {yours[n]})" if n in yours else n,
    key="ope-policies",
    help="Policies a company could run (the yardsticks that see hidden reasons are left out: "
    f"no log holds those). Policies of yours come from the agent/ folder of {cfg.config_dir}: "
    "choosing one runs its code.",
)
with st.expander("What these policies are"):
    for name in chosen:
        st.markdown(f"**{name}**: {words[name]}")
    if not chosen:
        st.write("Choose policies above: each is described here.")
predict = st.checkbox(
    "The simulator's prediction beside it (--predict: simulates each policy on as many "
    "customers as the log has)",
    key="ope-predict",
)
with st.expander("Settings"):
    left, right = st.columns(2)
    window = left.number_input(
        "Attribution days (each decision's outcome: the profit over these days)",
        1,
        365,
        28,
        key="ope-window",
    )
    boot = right.number_input(
        "Bootstrap resamples (the intervals: more, steadier)", 10, 5_000, 200, key="ope-boot"
    )

# ------------------------------------------------------------------ 3. run
st.subheader("3. Run")
missing = []
if log is None and upload is None:
    missing.append(
        "a log: upload yours, or make a simulated one (1. The log)"
        if source == "upload"
        else "a log: make a simulated one with the button above (1. The log)"
    )
if upload_problem:
    missing.append("a log of the right kind (the message above)")
if not chosen:
    missing.append("at least one policy (2. The policies to evaluate)")
if problems:
    missing.append("a scenario and offers without problems (the messages above)")
if missing:
    st.warning("To run, this page needs " + "; and ".join(missing) + ".")


def ope_args(folder: Path) -> list[str]:
    folder.mkdir(parents=True)
    path = log
    if upload is not None:
        path = folder / safe_name(upload.name)
        path.write_bytes(upload.getvalue())
    assert path is not None  # the button is disabled without a log
    req = ope_run.Request(
        log=path,
        policies=tuple(chosen),
        yours={n: t for n, t in yours.items() if n in chosen},
        user_conf=cfg.config_dir,
        scenario=d.scenario if d is not None else None,
        preset=d.preset if d is not None else "streaming",
        catalogue=d.catalogue if d is not None else None,
        named=named,
        predict=predict,
        window=int(window),
        boot=int(boot),
    )
    return ope_run.check(req, folder)


if st.button("Estimate from the log", type="primary", disabled=bool(missing), key="ope-run"):
    job = ui.launch("ope", ope_args)
    if job is not None:
        st.session_state["ope_shown"] = str(job.folder)

mine = ui.session_jobs("ope")
if mine:
    st.divider()
    run_labels = [
        f"{j.started[:19].replace('T', ' ')}: "
        + ", ".join(j.argv[i + 1] for i, a in enumerate(j.argv) if a == "--policy")
        for j in mine
    ]
    folders = [str(j.folder) for j in mine]
    wanted = st.session_state.get("ope_shown", folders[0])
    pick = st.selectbox(
        "Your estimates in this session",
        range(len(mine)),
        index=folders.index(wanted) if wanted in folders else 0,
        format_func=lambda i: run_labels[i],
    )
    st.session_state["ope_shown"] = folders[pick]
    job = mine[pick]
    status = ui.job_panel(job, "ope")
    if status.state == "finished":
        st.caption(f"Results: `{shown(job.folder / ope_run.RESULTS)}`")
        ope_run.show(job.folder / ope_run.RESULTS, "ope")
