"""The "Who is about to leave" page (``winback score`` in the app), headless (``AppTest``):
what it asks for before it runs, a file that is not an event log refused before anything
runs, and one tiny run end to end made on the page (1,000 simulated customers to score,
1,000 to learn from): its answer in words, its segments, a segment's customers to
download, its report; then a company's log scored with that run's model, a log with bad
rows named, and the run reopened from the Runs page."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from experiments.app import jobs, scores_run
from experiments.app.main import PAGES
from experiments.cli import main as cli
from experiments.scores import words
from tests.conftest import button, wait

MAIN = str(Path(PAGES).parent / "main.py")
RUN = "Find who is about to leave"
RUNS = "Your runs in this session (newest first)"


def setup(mp: pytest.MonkeyPatch, root: Path) -> None:
    """An empty working folder; the jobs' numeric libraries on one thread each (the
    models' OpenMP threads crawl on a busy machine)."""
    mp.chdir(root)
    mp.setenv("WINBACK_APP_CONFIG_DIR", "my_conf")
    mp.setenv("WINBACK_APP_OUT", "outputs")
    mp.setenv("OMP_NUM_THREADS", "1")
    (root / "my_conf").mkdir(exist_ok=True)


def open_page(session: str | None = None) -> AppTest:
    """The page; with ``session``, as after a reload of that session's address."""
    at = AppTest.from_file(MAIN, default_timeout=60)
    if session is not None:
        at.query_params["session"] = session
    at.run()
    at.switch_page("pages/scores.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    return [str(m.value) for m in [*at.markdown, *at.caption]]


def show(at: AppTest, job: jobs.Job) -> AppTest:
    """The run ``job`` chosen among the session's runs."""
    runs = next(s for s in at.selectbox if s.label == RUNS)
    label = scores_run.run_label(job.argv, job.started)
    index = next(i for i, o in enumerate(runs.options) if o == label)
    runs.set_value(index).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    setup(monkeypatch, tmp_path)
    return open_page()


@dataclass(frozen=True)
class Finished:
    root: Path
    session: str
    job: jobs.Job
    commands: list[str]  # the code blocks the page showed as the run started

    @property
    def results(self) -> Path:
        return self.job.folder / scores_run.RESULTS


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """One tiny run made on the page: the price signal set to 0.8."""
    root = tmp_path_factory.mktemp("scores")
    with pytest.MonkeyPatch.context() as mp:
        setup(mp, root)
        at = open_page()
        at.number_input(key="score-users").set_value(1000)
        at.number_input(key="score-train").set_value(1000)
        at.slider(key=f"score-signal-price-{at.session_state['form_version']}").set_value(0.8)
        button(at, RUN).click().run()
        assert not at.error, [e.value for e in at.error]
        session = at.session_state["session"]
        (job,) = jobs.jobs_of(Path("outputs/app"), session)
        status = wait(job)
        assert status.state == "finished", status.log_tail
        return Finished(root, session, job, [str(c.value) for c in at.code])


# ------------------------------------------------------------------ before a run
def test_the_page_says_what_it_needs_before_it_runs(app: AppTest, tmp_path: Path) -> None:
    assert [t.value for t in app.title] == ["Who is about to leave"]
    assert not app.error and not app.warning
    assert not button(app, RUN).disabled  # the draft's scenario: nothing missing
    assert app.number_input(key="score-users").value == 20_000
    version = app.session_state["form_version"]
    assert app.slider(key=f"score-signal-price-{version}").value == 0.5  # streaming's
    app.radio(key="score-source").set_value("log").run()
    (warning,) = [str(w.value) for w in app.warning]
    assert warning.startswith("To run, this page needs your event log (upload it above)")
    assert "; and a model: run this page on simulated customers first" in warning
    assert button(app, RUN).disabled
    assert not (tmp_path / "outputs").exists()


def test_a_file_that_is_not_an_event_log_is_refused(app: AppTest, tmp_path: Path) -> None:
    app.radio(key="score-source").set_value("log").run()
    decisions = ("decisions.csv", b"user_id,day,action\n1,2,3\n", "text/csv")
    app.file_uploader(key="score-upload").set_value(decisions).run()
    (message,) = [str(e.value) for e in app.error]
    assert message.startswith(
        "decisions.csv: not an event log: it has no column timestamp, event_type, amount; "
        "allowed: an event log"
    )
    assert "an event log (the message above)" in str(app.warning[0].value)
    assert button(app, RUN).disabled
    junk = ("log.parquet", b"not parquet", "application/octet-stream")
    app.file_uploader(key="score-upload").set_value(junk).run()
    (message,) = [str(e.value) for e in app.error]
    assert message.startswith("log.parquet: not readable as a Parquet file")
    assert not app.exception and not (tmp_path / "outputs").exists()


def test_upload_problems_name_the_kind_and_columns() -> None:
    problem = scores_run.upload_problem
    assert problem("notes.txt", b"x").startswith("notes.txt: a .txt file; allowed: an event log")
    assert "the file is empty" in problem("log.csv", b"")
    assert "no column amount" in problem("e.csv", b"user_id,timestamp,event_type\n")
    assert problem("e.csv", b"user_id,timestamp,event_type,amount,plan\n") is None
    buffer = io.BytesIO()
    pd.DataFrame({"user_id": [1], "timestamp": ["2024-01-01"], "event_type": ["session"],
                  "amount": [None]}).to_parquet(buffer)  # fmt: skip
    assert problem("e.parquet", buffer.getvalue()) is None


def test_the_command_sets_only_the_signals_changed_and_needs_a_model_for_a_log(
    tmp_path: Path,
) -> None:
    from sim import presets

    scenario = presets.streaming()
    signals = {"price": 0.5, "content": 0.25, "discovery": 0.5, "technical": 1.0}
    sets = scores_run.signal_sets(scenario, signals)
    assert sets == [
        "--set",
        "scenario.signals.content=0.25",
        "--set",
        "scenario.signals.technical=1",
    ]
    with pytest.raises(ValueError, match="--model: none chosen"):
        scores_run.score_argv(scores_run.Request(log=tmp_path / "log.csv"), tmp_path / "a")
    (tmp_path / "old" / "config").mkdir(parents=True)
    request = scores_run.Request(log=tmp_path / "log.csv", model_run=tmp_path / "old")
    with pytest.raises(ValueError, match=r"scores: '.*scores.skops' is not a file"):
        scores_run.check(request, tmp_path / "b")
    dated = scores_run.Request(
        log=tmp_path / "log.csv", model_run=tmp_path / "old", as_of=date(2024, 6, 30)
    )
    argv = scores_run.score_argv(dated, tmp_path / "c")
    assert argv[argv.index("--as-of") + 1] == "2024-06-30"
    assert scores_run.run_label(argv, "2026-12-05T10:00:00").endswith("log.csv as of 2024-06-30")
    assert "--as-of" not in scores_run.score_argv(request, tmp_path / "d")


def test_progress_names_the_score_steps() -> None:
    log = "scenario streaming: ...\nsimulating 20,000 customers to score (day 91)\n"
    assert jobs.progress(jobs.collapse(log)) == (0.15, "simulating 20,000 customers to score")
    log += "simulating 20,000 customers to learn from\nfitting the scores (gradient boosting)\n"
    assert jobs.progress(jobs.collapse(log)) == (0.35, "fitting the scores")
    assert jobs.progress(["log: 2,000 customers from events.csv"]) == (
        0.6,
        "scoring your log's customers",
    )


# ------------------------------------------------------------------ a finished run
def test_a_finished_run_answers_in_plain_words(
    finished: Finished, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = finished.job
    assert job.kind == "score" and job.command in finished.commands
    assert job.command.startswith("winback score --scenario app --config-dir outputs/app/")
    assert "/config --offers app --set" in job.command  # the draft's offers
    assert "--set scenario.signals.price=0.8 --users 1000 --train-users 1000" in job.command
    setup(monkeypatch, finished.root)
    at = show(open_page(finished.session), job)  # after a reload: the session's run
    summary = json.loads((finished.results / "summary.json").read_text())
    assert summary["signals"]["price"] == 0.8 and summary["customers"] == 1000
    shown = texts(at)
    assert scores_run.who_words(summary) in shown
    lines = words.answer(summary)
    assert all(f"- {line}" in shown for line in lines)
    metrics = pd.read_csv(finished.results / "metrics.csv").set_index(["score", "method", "metric"])
    model, recency = (metrics.value[("lapse_90", m, "auc")] for m in ("model", "recency"))
    assert lines[0].startswith("**Who will stop visiting within 90 days**: the model finds them")
    assert f"days since the last visit alone: AUC {model:.2f} vs {recency:.2f}" in lines[0]
    accuracy, survey = (metrics.value[("reason", m, "accuracy")] for m in ("model", "survey"))
    assert (
        f"reason correctly for {accuracy:.0%} of customers; the exit survey alone {survey:.0%}"
        in (" ".join(lines))
    )
    segments = next(d.value for d in at.dataframe if "segment" in d.value.columns)
    assert list(segments.columns) == [
        "segment",
        "customers",
        "share (%)",
        "mean value over 12 months",
        "mean chance of stopping within 90 days (%)",
        "reason named right (%)",
        "the playbook's offer",
    ]
    assert segments.customers.is_monotonic_decreasing and segments.customers.sum() == 1000
    assert segments["share (%)"].sum() == pytest.approx(100, abs=0.5)
    gone = segments.segment.str.contains("lapsed|cancelled")
    assert segments.loc[gone, "mean chance of stopping within 90 days (%)"].isna().all()
    assert len(at.get("vega_lite_chart")) == 4  # three chances' calibration, the reasons
    charts = scores_run.calibration_data(finished.results)
    assert list(charts) == [
        "Stopping within 90 days",
        "Stopping within 30 days",
        "Cancelling within 90 days",
    ]
    assert set(charts["Stopping within 90 days"].rule) == {
        "the model",
        "days since the last visit",
        "the textbook repeat-visit model",
    }
    reasons = scores_run.reason_data(summary)
    assert set(reasons.by) == {"the model", "the exit survey alone"} and len(reasons) == 10
    downloads = [b.label for b in at.get("download_button")]
    assert "Download the report (HTML)" in downloads
    assert "Download this segment's customers (CSV)" in downloads
    for jargon in ("p_lapse", "value_12m", "lapse_90", "bgnbd"):
        assert not any(jargon in t for t in shown), jargon
        assert not any(jargon in str(c) for d in at.dataframe for c in d.value.columns), jargon


def test_a_segments_customers_are_shown_and_downloaded(
    finished: Finished, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(monkeypatch, finished.root)
    at = show(open_page(finished.session), finished.job)
    table = pd.read_parquet(finished.results / "scores.parquet")
    active = table[table.risk_tier.isin(["high", "medium", "low"])].segment.value_counts()
    segment = active.index[0]
    at.selectbox(key="segment-score").set_value(segment).run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "customer id" in d.value.columns)
    mine = table[table.segment == segment]
    assert sorted(shown["customer id"]) == sorted(mine.user_id)
    assert shown["value over the next 12 months"].is_monotonic_decreasing
    assert shown["chance of stopping within 90 days (%)"].notna().all()
    download = pd.read_csv(io.BytesIO(scores_run.segment_csv(finished.results, segment)))
    assert len(download) == len(mine) and set(download["customer id"]) == set(mine.user_id)
    assert (download.segment == segment).all()
    truth = mine.set_index("user_id").p_lapse_90
    got = download.set_index("customer id")["chance of stopping within 90 days"]
    pd.testing.assert_series_equal(got.sort_index(), truth.sort_index(), check_names=False)
    cancelled = table[table.risk_tier == "cancelled"].segment.iloc[0]
    at.selectbox(key="segment-score").set_value(cancelled).run()
    shown = next(d.value for d in at.dataframe if "customer id" in d.value.columns)
    assert list(shown.columns) == [
        "customer id",
        "status now",
        "likeliest reason",
        "value over the next 12 months",
    ]  # no chance of stopping or cancelling for those who have cancelled
    download = pd.read_csv(io.BytesIO(scores_run.segment_csv(finished.results, cancelled)))
    assert download["chance of stopping within 90 days"].isna().all()
    assert download["chance of cancelling within 90 days"].isna().all()
    assert scores_run.file_name(segment).startswith("customers-") and " " not in (
        scores_run.file_name(segment)
    )
    lapsed = table[table.risk_tier == "lapsed"].segment.iloc[0]
    download = pd.read_csv(io.BytesIO(scores_run.segment_csv(finished.results, lapsed)))
    assert set(download["status now"]) == {"lapsed"}  # the segments' word, not "inactive"
    assert download["chance of stopping within 30 days"].isna().all()
    assert download["chance of cancelling within 90 days"].notna().all()


def test_the_words_are_one_source_with_the_cli_report() -> None:
    """The page's column names and status words are ``experiments.scores.words``'s (the
    CLI's report reads the same), and ``in_words`` only renames: the blanks are in the
    scores table already (``experiments.scores.segments.blank_where_moot``)."""

    assert scores_run.COLUMNS is words.COLUMNS
    assert scores_run.who_words is words.who_words
    table = pd.DataFrame(
        {
            "user_id": [7, 8],
            "status": ["lapsed", "active"],
            "p_lapse_90": [float("nan"), 0.25],
            "p_cancel_90": [0.5, 0.125],
            "value_12m": [10.004, 3.0],
        }
    )
    plain = scores_run.in_words(table)
    assert list(plain.columns) == [words.COLUMNS[c] for c in table.columns]
    assert plain.to_numpy().tolist()[1] == table.to_numpy().tolist()[1]
    assert plain["status now"].tolist() == ["lapsed", "active"]
    shown = scores_run.in_words(table, percent=True)
    assert shown["chance of stopping within 90 days (%)"].tolist()[1] == 25.0
    assert shown["chance of cancelling within 90 days (%)"].tolist() == [50.0, 12.5]
    assert shown["value over the next 12 months"].tolist() == [10.0, 3.0]
    assert "**AUC**: take one customer" in scores_run.how_to_read()


@pytest.mark.slow  # about 13 s; winback score --log is in the default tests (test_scores.py)
def test_a_company_log_is_scored_with_the_runs_model(
    finished: Finished, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    events = tmp_path / "events.csv"
    assert cli(["ope-log", "--out", str(events), "--users", "300", "--days", "56"]) == 0
    setup(monkeypatch, finished.root)
    at = open_page(finished.session)
    at.radio(key="score-source").set_value("log").run()
    assert len(at.selectbox(key="score-model").options) == 1
    at.file_uploader(key="score-upload").set_value(("events.csv", events.read_bytes(), "text/csv"))
    at.run()
    assert not at.error and not at.warning, [e.value for e in [*at.error, *at.warning]]
    button(at, RUN).click().run()
    assert not at.error, [e.value for e in at.error]
    job = jobs.jobs_of(Path("outputs/app"), finished.session)[0]
    model = finished.results / "scores.skops"
    assert f"--log {job.folder.relative_to(finished.root)}/events.csv" in job.command
    assert f"--model {model.relative_to(finished.root)} --scenario app --offers app" in job.command
    assert (job.folder / "config" / "scenario" / "app.yaml").read_text() == (
        finished.job.folder / "config" / "scenario" / "app.yaml"
    ).read_text()
    assert wait(job).state == "finished", jobs.status(job).log_tail
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    summary = json.loads((job.folder / "results" / "summary.json").read_text())
    shown = texts(at)
    assert scores_run.who_words(summary) in shown
    assert any(t.startswith("Your log holds no future to measure against") for t in shown)
    fitted = json.loads((finished.results / "summary.json").read_text())
    assert all(f"- {line}" in shown for line in words.answer(fitted))
    as_of = f"customers of your log `events.csv` scored as they stood on **{summary['as_of']}**"
    assert any(as_of in t and "by the model fitted on" in t for t in shown)
    segments = next(d.value for d in at.dataframe if "segment" in d.value.columns)
    assert segments.customers.sum() == summary["customers"] == 300

    # a log whose rows the CLI refuses: its message, nothing crashes
    bad = b"user_id,timestamp,event_type,amount\n1,2024-01-01,session,\n1,2024-01-02,click,\n"
    at.file_uploader(key="score-upload").set_value(("bad.csv", bad, "text/csv")).run()
    button(at, RUN).click().run()
    failed = jobs.jobs_of(Path("outputs/app"), finished.session)[0]
    assert wait(failed).state == "failed"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (error,) = [str(e.value) for e in at.error]
    assert "event log" in error and "1 bad row(s)" in error, error
    assert any("Leave out the log's bad rows" in str(i.value) for i in at.info)


def test_the_runs_page_reopens_a_score_run(
    finished: Finished, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(monkeypatch, finished.root)
    at = open_page(finished.session)
    at.switch_page("pages/runs.py").run()
    past = at.selectbox(key="past-pick")
    label = next(o for o in past.options if " score " in o and "simulated" in o)
    assert "1,000 customers simulated (streaming)" in label
    past.set_value(past.options.index(label)).run()
    assert not at.exception, [e.value for e in at.exception]
    summary = json.loads((finished.results / "summary.json").read_text())
    assert scores_run.who_words(summary) in texts(at)
