"""The offer catalogue as an editable table, and back.

Rules: one row per offer, one column per field of ``sim.Offer`` (``eligible`` as text:
"inactive, churned"); a row is read only through ``sim.Offer`` itself, so a bad value gets
exactly the CLI's message (key, value, what is allowed), and a cell that is empty or not a
number gets one in the same form; every row is checked, so all problems show at once, each
on its row; the catalogue is built only when every row is good, and then checked as the CLI
checks it (unique names, at least one offer, at most 32, what the business allows:
``sim.simulation.check_catalogue``). An empty table is refused with the CLI's message.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import pandas as pd

from experiments.app.scenario_form import number
from sim.constants import CHANNELS, OFFER_KINDS
from sim.offers import OBSERVED_STATUSES, Catalogue, Offer
from sim.scenario import Scenario
from sim.simulation import check_catalogue

COLUMNS = [f.name for f in fields(Offer)]
SHOWN = ["name", "kind", "channel", "lift", "eligible", "discount", "duration_days",
         "trial_days", "cost_per_send", "support_cost"]  # fmt: skip
"""The table's columns as the page shows them: the strategist's dials first."""
NUMBERS = {
    "cost_per_send": "a number >= 0",
    "discount": "a share of the list price from 0 to 1 (0.3 = 30% off)",
    "duration_days": "a whole number of days from 1 to 3,650",
    "trial_days": "a whole number of days from 0 to 365",
    "support_cost": "a number >= 0",
    "lift": "a number >= 0",
}
WHOLE = ("duration_days", "trial_days")
HELP = {
    "name": "a unique name: letters, digits and _",
    "kind": ", ".join(OFFER_KINDS),
    "channel": ", ".join(CHANNELS),
    "cost_per_send": "cost of one send on top of the channel's own",
    "discount": "share of the list price taken off while it runs (0.3 = 30% off)",
    "duration_days": "how long the discount, fix or recommendations last",
    "trial_days": "free days on return (free_trial)",
    "support_cost": "cost of the contact when the customer engages (support)",
    "lift": "how strongly it moves the customers whose problem it matches (see its effect)",
    "eligible": "who may get it: " + ", ".join(OBSERVED_STATUSES),
}


def table_of(catalogue: Catalogue) -> pd.DataFrame:
    """One row per offer (``eligible`` joined as text)."""
    rows = [
        {c: ", ".join(o.eligible) if c == "eligible" else getattr(o, c) for c in COLUMNS}
        for o in catalogue.offers
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def read(
    table: pd.DataFrame, scenario: Scenario | None = None
) -> tuple[Catalogue | None, dict[int, str]]:
    """The catalogue the table describes, or None and the problems (row position -> the
    message; position -1: the catalogue as a whole)."""
    problems: dict[int, str] = {}
    offers = []
    for i, row in enumerate(table.to_dict("records")):  # column names are str
        try:
            offers.append(offer_of({str(k): v for k, v in row.items()}, i))
        except ValueError as err:
            problems[i] = str(err)
    if problems:
        return None, problems
    if not offers:
        return None, {-1: "offers.offers: []; allowed: a list of at least one offer"}
    try:
        catalogue = Catalogue(offers=tuple(offers))
        if scenario is not None:
            check_catalogue(scenario, catalogue)
    except ValueError as err:
        return None, {-1: str(err)}
    return catalogue, {}


def offer_of(row: dict[str, Any], position: int) -> Offer:
    """One row -> an ``Offer`` (see the module doc for the rules)."""
    name = _text(row.get("name"))
    if not name:
        raise ValueError(f"offers[{position}].name: empty; allowed: {HELP['name']}")
    values: dict[str, Any] = {"name": name}
    for column in ("kind", "channel"):
        values[column] = _text(row.get(column))
    for column, allowed in NUMBERS.items():
        key = f"offers.{name}.{column}"
        value = number(key, row.get(column), allowed)
        if column in WHOLE:
            if value != int(value):
                raise ValueError(f"{key}: {row.get(column)!r} is not whole; allowed: {allowed}")
            value = int(value)
        values[column] = value
    values["eligible"] = tuple(
        s.strip() for s in _text(row.get("eligible")).replace(";", ",").split(",") if s.strip()
    )
    return Offer(**values)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def copy_row(table: pd.DataFrame, position: int) -> pd.DataFrame:
    """``table`` with row ``position`` copied below it under a new name (``<name>_copy``,
    ``<name>_copy2``, ...)."""
    row = table.iloc[position].to_dict()
    names = set(table["name"].astype(str))
    base = f"{row['name']}_copy"
    name, k = base, 2
    while name in names:
        name, k = f"{base}{k}", k + 1
    row["name"] = name
    top, bottom = table.iloc[: position + 1], table.iloc[position + 1 :]
    return pd.concat([top, pd.DataFrame([row]), bottom], ignore_index=True)
