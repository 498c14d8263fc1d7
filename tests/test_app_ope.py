"""The "What your log says" page (``winback ope`` in the app), headless (``AppTest``): what
it asks for before it runs, a wrong kind of file refused, and a tiny simulated log end to
end (made on the page, then evaluated) showing the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from experiments.app import jobs
from experiments.app.main import PAGES
from experiments.app.ope_run import upload_problem
from tests.conftest import button, wait

MAIN = str(Path(PAGES).parent / "main.py")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The page in an empty working folder; the jobs' numeric libraries on one thread each
    (the reward model's OpenMP threads crawl on a busy machine)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_APP_CONFIG_DIR", "my_conf")
    monkeypatch.setenv("WINBACK_APP_OUT", "outputs")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "my_conf").mkdir()
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    at.switch_page("pages/ope.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_says_what_is_missing_before_it_runs(app: AppTest, tmp_path: Path) -> None:
    assert [t.value for t in app.title] == ["What your log says"]
    (warning,) = [str(w.value) for w in app.warning]
    assert warning.startswith("To run, this page needs a log: upload yours")
    assert button(app, "Estimate from the log").disabled
    offered = app.multiselect(key="ope-policies").options
    assert "playbook" in offered and "blanket_discount_30" in offered
    assert "full_information" not in offered and "pain_point_rule" not in offered
    app.multiselect(key="ope-policies").set_value([]).run()
    (warning,) = [str(w.value) for w in app.warning]
    assert "; and at least one policy" in warning
    assert not (tmp_path / "outputs").exists()


def test_a_wrong_kind_of_file_is_refused_before_anything_runs(app: AppTest, tmp_path: Path) -> None:
    # (a .txt never reaches the page: the uploader offers .npz, .csv and .parquet only)
    app.file_uploader(key="ope-upload").set_value(
        ("log.npz", b"not an archive", "application/octet-stream")
    ).run()
    (message,) = [str(e.value) for e in app.error]
    assert message.startswith("log.npz: not readable as a NumPy archive")
    assert "a log of the right kind" in str(app.warning[0].value)
    assert button(app, "Estimate from the log").disabled
    assert not (tmp_path / "outputs").exists()


def test_upload_problems_name_the_kind_and_columns() -> None:
    assert upload_problem("notes.txt", b"x").startswith("notes.txt: a .txt file; allowed: a .npz")
    assert "the file is empty" in upload_problem("log.csv", b"")
    csv = b"user_id,day,action\n1,2,3\n"
    assert "it has no column propensity, reward" in upload_problem("log.csv", csv)
    events = b"user_id,timestamp,event_type,amount\n"
    assert "read as an event log, it has no column propensity" in upload_problem("e.csv", events)
    assert upload_problem("d.csv", b"user_id,day,action,propensity,reward,f\n") is None
    import io

    buffer = io.BytesIO()
    np.savez(buffer, action=np.zeros(3))
    assert "an archive without n_rounds" in upload_problem("x.npz", buffer.getvalue())


def test_a_tiny_simulated_log_is_made_and_read_to_a_verdict(app: AppTest) -> None:
    at = app
    at.radio(key="ope-source").set_value("simulated").run()
    assert "make a simulated one with the button above" in str(at.warning[0].value)
    at.number_input(key="ope-users").set_value(1500)
    at.number_input(key="ope-days").set_value(84)
    button(at, "Make a simulated log").click().run()
    assert not at.error, [e.value for e in at.error]
    (made,) = jobs.jobs_of(Path("outputs/app"), at.session_state["session"])
    assert made.kind == "ope-log" and made.command.startswith("winback ope-log --out outputs/app/")
    assert wait(made).state == "finished", jobs.status(made).log_tail
    at.run()
    at.multiselect(key="ope-policies").set_value(["playbook"])
    at.number_input(key="ope-boot").set_value(20)
    button(at, "Estimate from the log").click().run()
    assert not at.error, [e.value for e in at.error]
    job = next(
        j for j in jobs.jobs_of(Path("outputs/app"), at.session_state["session"]) if j.kind == "ope"
    )
    assert job.command in [c.value for c in at.code]
    assert "--policy playbook" in job.command and "--boot 20" in job.command
    assert wait(job).state == "finished", jobs.status(job).log_tail
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    summary = json.loads((job.folder / "results" / "summary.json").read_text())
    verdict = summary["policies"]["playbook"]["verdict"]
    boxes = at.success if summary["policies"]["playbook"]["supported"] else at.warning
    assert verdict in [str(b.value) for b in boxes]
    text = " ".join(str(m.value) for m in at.markdown)
    assert "What **playbook** would have earned on these decisions" in text
    assert "Against sending nothing to the same customers" in text
    (table,) = [d.value for d in at.dataframe if "estimator" in d.value.columns]
    assert "doubly robust" in list(table.estimator)
    assert any(b.label == "Download the report (HTML)" for b in at.get("download_button"))

    # the same log read with other offers: the CLI's message, and nothing started
    at.radio(key="ope-where").set_value("named").run()
    at.selectbox(key="ope-of").set_value("retail")
    at.multiselect(key="ope-policies").set_value(["playbook"]).run()
    button(at, "Estimate from the log").click().run()
    assert any("agent.playbook.price: 'discount_30'" in str(e.value) for e in at.error)
    at.multiselect(key="ope-policies").set_value(["blanket_coupon_10"]).run()
    button(at, "Estimate from the log").click().run()
    assert any(str(e.value).startswith("LOG: its actions are") for e in at.error), [
        e.value for e in at.error
    ]
    assert len(jobs.jobs_of(Path("outputs/app"), at.session_state["session"])) == 2

    # a past run: the Runs page opens it as this page shows it
    at.switch_page("pages/runs.py").run()
    past = at.selectbox(key="past-pick")
    past.set_value(next(i for i, o in enumerate(past.options) if " ope " in o)).run()
    assert verdict in [str(b.value) for b in [*at.success, *at.warning]]
