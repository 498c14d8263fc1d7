"""The app's entry script (``streamlit run``): the pages and their sections.

Navigation is one table, ``SECTIONS``: a page is a file in ``pages/`` and one line here.
Sections follow a strategist's path: ask a question (scenario, offers, compare, who is
about to leave), run longer work, check before rolling out, bring your own data.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from experiments.app import ui

PAGES = Path(__file__).parent / "pages"
SECTIONS = {
    "Ask a question": [
        ("scenario.py", "Scenario", ":material/tune:"),
        ("offers.py", "Offers", ":material/sell:"),
        ("compare.py", "Compare policies", ":material/leaderboard:"),
        ("scores.py", "Who is about to leave", ":material/person_remove:"),
    ],
    "Longer work": [
        ("runs.py", "Long runs and past runs", ":material/history:"),
    ],
    "Before you roll out": [
        ("robustness.py", "Robustness", ":material/shield:"),
        ("plan.py", "Live test plan", ":material/science:"),
    ],
    "Your data": [
        ("calibrate.py", "Calibrate from a log", ":material/upload_file:"),
        ("ope.py", "What your log says", ":material/fact_check:"),
    ],
}


def main() -> None:
    st.set_page_config(page_title="win-back sandbox", page_icon=":material/undo:", layout="wide")
    ui.session()  # the browser session's id, kept in the address for a reload
    pages = {
        section: [
            st.Page(PAGES / file, title=title, icon=icon, default=(file == "compare.py"))
            for file, title, icon in items
        ]
        for section, items in SECTIONS.items()
    }
    with st.sidebar:
        st.caption(f"Config folder: `{ui.settings().config_dir}` · results: `{ui.settings().out}`")
    st.navigation(pages).run()


main()
