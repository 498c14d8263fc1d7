"""The web app's pages, headless (Streamlit's ``AppTest``): every message a bad input gets,
that nothing runs or is written until it is fixed, and a small comparison end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from experiments.app import jobs
from experiments.app.main import PAGES
from tests.conftest import wait

MAIN = str(Path(PAGES).parent / "main.py")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app in an empty working folder with a config folder of the user's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_APP_CONFIG_DIR", "my_conf")
    monkeypatch.setenv("WINBACK_APP_OUT", "outputs")
    (tmp_path / "my_conf" / "scenario").mkdir(parents=True)
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


def written(root: Path) -> list[Path]:
    return sorted(p for p in (root / "outputs").rglob("*") if p.is_file())


def test_the_app_opens_on_compare_with_a_session_in_the_address(app: AppTest) -> None:
    assert [t.value for t in app.title] == ["Compare policies"]
    assert app.query_params["session"] == app.session_state["session"]
    assert not errors(app)
    for name in ("scenario", "offers", "scores", "runs", "robustness", "plan", "calibrate", "ope"):
        page(app, name)


def test_scenario_fields_show_the_clis_message_beside_them(app: AppTest, tmp_path: Path) -> None:
    at = page(app, "scenario")
    at.text_input(key=f"price-standard-{at.session_state['form_version']}").set_value("17,99")
    at.number_input(key=f"users-{at.session_state['form_version']}").set_value(500)
    at.text_input(key=f"every-{at.session_state['form_version']}").set_value("weekly")
    at.run()
    shown = errors(at)
    assert (
        "plans.standard.monthly_price: '17,99' is not a number; allowed: a number >= 0, e.g. 17.99"
        in shown
    )
    assert (
        "scenario.users: 500 is not allowed; allowed: a whole number from 1,000 to 1,000,000"
        in shown
    )
    assert any(m.startswith("releases (every): 'weekly' is not a number") for m in shown)
    assert not any(b.label == "Save scenario" for b in at.button)  # nothing to save
    page(at, "compare")
    assert any(m.startswith("Scenario page: plans.standard.monthly_price") for m in errors(at))
    run = next(b for b in at.button if b.label == "Run the comparison")
    assert run.disabled
    assert written(tmp_path) == []


def test_a_scenario_file_that_fails_to_load_keeps_the_page_working(
    app: AppTest, tmp_path: Path
) -> None:
    (tmp_path / "my_conf" / "scenario" / "typo.yaml").write_text("preset: streaming\nusres: 5\n")
    at = page(app, "scenario")
    at.selectbox(key="scenario_pick").set_value("typo").run()
    (message,) = errors(at)
    assert message.startswith("This does not load, so the page keeps streaming: typo:")
    assert "scenario.usres: unknown key (did you mean users?)" in message
    assert "(in scenario/typo.yaml)" in message
    assert at.session_state["base_name"] == "streaming"
    assert at.selectbox(key="scenario_pick").value == "streaming"  # shown is what runs
    (tmp_path / "my_conf" / "scenario" / "typo.yaml").write_text("preset: [streaming\n")
    at.selectbox(key="scenario_pick").set_value("typo").run()
    assert any("typo.yaml: malformed YAML, line 2" in m for m in errors(at))
    assert written(tmp_path) == []


def set_offers(at: AppTest, table: pd.DataFrame) -> AppTest:
    at.session_state["offers_table"] = table
    at.session_state["offers_version"] = at.session_state["offers_version"] + 1
    at.run()
    return at


def test_offer_problems_are_named_row_by_row_and_block_runs(app: AppTest, tmp_path: Path) -> None:
    at = page(app, "offers")
    table = at.session_state["offers_table"].copy()
    table.loc[1, "discount"] = 1.5
    table.loc[2, "lift"] = float("nan")
    set_offers(at, table)
    assert errors(at) == [
        "row 2 (discount_30): offers.discount_30.discount: 1.5 is not a probability; allowed: "
        "a number in [0, 1]",
        "row 3 (discount_50_sms): offers.discount_50_sms.lift: empty; allowed: a number >= 0",
    ]
    page(at, "compare")
    assert "Offers page, row 2 (discount_30): offers.discount_30.discount: 1.5" in errors(at)[0]
    assert next(b for b in at.button if b.label == "Run the comparison").disabled
    page(at, "offers")
    set_offers(at, table.iloc[0:0])
    assert errors(at) == ["the catalogue: offers.offers: []; allowed: a list of at least one offer"]
    assert written(tmp_path) == []


def test_saving_offers_names_what_is_wrong_or_where_it_went(app: AppTest, tmp_path: Path) -> None:
    at = page(app, "offers")
    save = at.get("form")  # forms: by-effect, save-offers
    assert save
    field = next(t for t in at.text_input if t.label == "Save as")
    field.set_value("streaming")
    next(b for b in at.button if b.label == "Save offers").click().run()
    assert any(m.startswith("save as: 'streaming' is a built-in offers name") for m in errors(at))
    field = next(t for t in at.text_input if t.label == "Save as")
    field.set_value("spring")
    next(b for b in at.button if b.label == "Save offers").click().run()
    assert (tmp_path / "my_conf" / "offers" / "spring.yaml").exists()
    assert any("offers=spring" in str(s.value) for s in at.success)


def test_copy_and_delete_an_offer(app: AppTest) -> None:
    at = page(app, "offers")
    at.selectbox(key="row").set_value(1)
    next(b for b in at.button if b.label == "Copy it below").click().run()
    assert list(at.session_state["offers_table"]["name"][:3]) == [
        "reminder_email",
        "discount_30",
        "discount_30_copy",
    ]
    at.selectbox(key="row").set_value(0)
    next(b for b in at.button if b.label == "Delete it").click().run()
    assert at.session_state["offers_table"]["name"].iloc[0] == "discount_30"
    assert not errors(at)


RUN_SECONDS = 240  # a page's job, on a busy machine


def test_a_small_comparison_runs_the_command_it_shows(app: AppTest, tmp_path: Path) -> None:
    at = page(app, "scenario")
    at.number_input(key=f"users-{at.session_state['form_version']}").set_value(2000).run()
    at = page(at, "compare")
    at.multiselect(key="policies-compare").set_value(["no_offer", "playbook"])
    at.slider(key="seeds-compare").set_value(1)
    next(b for b in at.button if b.label == "Run the comparison").click().run()
    assert not errors(at)
    (job,) = jobs.jobs_of(Path("outputs/app"), at.session_state["session"])
    command = next(c.value for c in at.code)
    assert command == job.command
    assert command.startswith("winback benchmark --config-dir outputs/app/")
    assert wait(job, RUN_SECONDS).state == "finished"
    at.run()
    board = at.dataframe[0].value
    assert set(board.policy) == {"no_offer", "playbook", "blanket_discount_30"}
    assert (job.folder / "report.html").exists() and (job.folder / "summary.json").exists()

    # a reload: a new page state with the same session id in the address
    again = AppTest.from_file(MAIN, default_timeout=60)
    again.query_params["session"] = at.session_state["session"]
    again.run()
    assert again.session_state["session"] == at.session_state["session"]
    assert again.session_state["base_name"] == f"as in your run {job.folder.name}"
    assert again.session_state["form"].users == 2000  # the draft as the run had it
    assert again.session_state["run_choices"]["policies"] == ["no_offer", "playbook"]
    assert again.session_state["run_choices"]["blankets"] == ["discount_30"]
    assert set(again.dataframe[0].value.policy) == set(board.policy)  # its results shown
    other = AppTest.from_file(MAIN, default_timeout=60)  # another person: nothing of it
    other.run()
    assert other.session_state["session"] != at.session_state["session"]
    assert not other.dataframe and other.session_state["base_name"] == "streaming"


def test_a_long_run_of_your_own_scenario_starts_in_its_own_process(app: AppTest) -> None:
    at = page(app, "scenario")
    at.number_input(key=f"users-{at.session_state['form_version']}").set_value(1000).run()
    at = page(at, "runs")
    at.radio(key="long-kind").set_value("mine").run()
    at.multiselect(key="policies-long").set_value(["no_offer", "playbook"])
    at.multiselect(key="blankets-long").set_value([])
    at.slider(key="seeds-long").set_value(1)
    at.text_input(key="long-extra").set_value("scenario.days=56").run()
    next(b for b in at.button if b.label == "Start").click().run()
    assert not errors(at), errors(at)
    (job,) = jobs.jobs_of(Path("outputs/app"), at.session_state["session"])
    assert job.kind == "benchmark" and "scenario.days=56" in job.argv
    assert not any(a.startswith("agent.uplift") for a in job.argv)  # full budgets: none set
    assert wait(job, RUN_SECONDS).state == "finished"
    at.text_input(key="long-extra").set_value("scenario.dayz=5").run()
    next(b for b in at.button if b.label == "Start").click().run()
    assert any("dayz" in m for m in errors(at)), errors(at)
    assert len(jobs.jobs_of(Path("outputs/app"), at.session_state["session"])) == 1


def test_each_lift_in_business_terms_and_an_offer_set_by_its_effect(app: AppTest) -> None:
    at = page(app, "offers")
    next(b for b in at.button if b.label.startswith("Measure what each offer does")).click().run()
    (effects,) = [d.value for d in at.dataframe if "offer" in d.value.columns]
    assert list(effects.offer) == list(at.session_state["offers_table"]["name"])
    assert effects.set_index("offer").loc["discount_50_sms", "extra returns per 1,000 reached"] > 0
    at.selectbox(key="effect_offer").set_value("support_call")
    at.number_input(key="effect_target").set_value(50.0)
    next(b for b in at.button if b.label == "Find the lift").click().run()
    assert not errors(at), errors(at)
    table = at.session_state["offers_table"].set_index("name")
    assert table.loc["support_call", "lift"] > 2.0  # more than its default: a stronger effect
    (done,) = [s.value for s in at.success if "support_call: lift" in str(s.value)]
    assert "extra returns per 1,000 reached" in done
    at.selectbox(key="effect_offer").set_value("reminder_email")
    next(b for b in at.button if b.label == "Find the lift").click().run()
    assert any(m.startswith("offers.reminder_email") for m in errors(at)), errors(at)


def test_your_playbook_is_compared_planned_and_its_plan_reopens(app: AppTest) -> None:
    at = page(app, "scenario")
    at.number_input(key=f"users-{at.session_state['form_version']}").set_value(2000).run()
    at = page(at, "compare")
    at.multiselect(key="policies-compare").set_value(["no_offer", "playbook"])
    at.multiselect(key="blankets-compare").set_value([])
    at.toggle(key="mine-compare").set_value(True).run()
    at.selectbox(key="pb-price-compare").set_value("discount_30")
    at.slider(key="seeds-compare").set_value(2)
    next(b for b in at.button if b.label == "Run the comparison").click().run()
    (job,) = jobs.jobs_of(Path("outputs/app"), at.session_state["session"])
    assert "agent=[no_offer,playbook,my_playbook]" in job.argv
    assert wait(job, RUN_SECONDS).state == "finished"
    at.run()
    answer = [str(m.value) for m in at.markdown if str(m.value).startswith("- **")]
    assert any(line.startswith("- **my_playbook** ") for line in answer), answer
    at = page(at, "plan")
    options = at.selectbox(key="plan-policy").options
    assert set(options) == {"playbook", "my_playbook"}  # the comparison's, no reference
    against = at.selectbox(key="plan-against").options
    assert against.count("nothing (no_offer)") == 1
    at.selectbox(key="plan-policy").set_value("my_playbook").run()
    next(b for b in at.button if b.label == "Plan the test").click().run()
    assert not errors(at), errors(at)
    plan = next(j for j in jobs.jobs_of(Path("outputs/app"), at.session_state["session"]))
    assert plan.kind == "plan" and wait(plan, RUN_SECONDS).state == "finished"
    at.run()
    lines = [str(m.value) for m in at.markdown if "customers per arm" in str(m.value)]
    assert lines, [m.value for m in at.markdown]
    at = page(at, "runs")
    past = at.selectbox(key="past-pick")
    at = past.set_value(next(i for i, o in enumerate(past.options) if "plan" in o)).run()
    assert any("customers per arm" in str(m.value) for m in at.markdown)
