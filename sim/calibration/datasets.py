"""Public customer data sets as event logs in this package's schema.

``read_telco``: the IBM Telco customer-churn sample (``wa_churn`` of R's ``modeldata``):
one row per customer with ``tenure`` (whole months), ``contract``, ``monthly_charges`` and
``churn``. A customer becomes a subscription of the plan named by the contract, billed
monthly at the monthly charge, from ``tenure`` months before the data's end, with a
``renew`` at every month's end and, for a churned customer, a ``cancel`` taking effect at the
end (their last month). A month is 30 days (``sim.constants.BILLING_DAYS``); the end is
``end`` (default 2018-09-01, when ``modeldata`` took the data). IBM's own file names the
columns ``customerID``, ``tenure``, ``Contract``, ``MonthlyCharges`` and ``Churn``
(``IBM_NAMES``); either spelling is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.constants import BILLING_DAYS

TELCO_COLUMNS = ("customer", "tenure", "contract", "monthly_charges", "churn")
IBM_NAMES = {
    "customerID": "customer",
    "Contract": "contract",
    "MonthlyCharges": "monthly_charges",
    "Churn": "churn",
}


def read_telco(path: str | Path, end: str = "2018-09-01") -> pd.DataFrame:
    """The Telco table at ``path`` (CSV with ``TELCO_COLUMNS``) as an event-log table."""
    df = pd.read_csv(path)
    df = df.rename(columns={k: v for k, v in IBM_NAMES.items() if v not in df.columns})
    missing = [c for c in TELCO_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"Telco file {str(path)!r}: missing column(s) {', '.join(missing)}; "
            f"required: {', '.join(TELCO_COLUMNS)} (or IBM's {', '.join(IBM_NAMES)})"
        )
    month = BILLING_DAYS["monthly"]
    last = pd.Timestamp(end)
    tenure = df.tenure.to_numpy(np.int64)
    start = last - pd.to_timedelta(tenure * month, unit="D")
    user = df.customer.astype(str).to_numpy()
    plan = df.contract.astype(str).to_numpy()
    price = df.monthly_charges.to_numpy(np.float64)
    subscribe = pd.DataFrame(
        {"user_id": user, "timestamp": start, "event_type": "subscribe", "amount": price,
         "plan": plan, "price": price, "billing": "monthly"}
    )  # fmt: skip
    owner = np.repeat(np.arange(len(df)), np.maximum(tenure - 1, 0))
    months = np.concatenate([np.arange(1, t) for t in np.maximum(tenure, 1)])
    renew = pd.DataFrame(
        {
            "user_id": user[owner],
            "timestamp": start[owner] + pd.to_timedelta(months * month, unit="D"),
            "event_type": "renew",
            "amount": price[owner],
            "plan": plan[owner],
            "price": np.nan,
            "billing": "",
        }
    )
    gone = df.churn.astype(str).str.lower().isin(("yes", "1", "true")).to_numpy() & (tenure > 0)
    cancel = pd.DataFrame(
        {"user_id": user[gone], "timestamp": last, "event_type": "cancel", "amount": np.nan,
         "plan": plan[gone], "price": np.nan, "billing": ""}
    )  # fmt: skip
    out = pd.concat([subscribe, renew, cancel], ignore_index=True)
    out["timestamp"] = pd.to_datetime(out.timestamp).dt.strftime("%Y-%m-%d")
    return out.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def cohort_log(
    survivors: list[int] | np.ndarray,
    billing: str = "annual",
    start: str = "2000-01-01",
    plan: str = "plan",
    price: float = 0.0,
) -> pd.DataFrame:
    """A cohort's survivor counts (``survivors[0]`` subscribe on ``start``; ``survivors[t]``
    are still subscribed after ``t`` billing periods) as an event-log table: a ``subscribe``
    row each, a ``renew`` at every period end survived and a ``cancel`` at the end of the
    period each leaver left in. Counts must not increase."""
    counts = np.asarray(survivors, dtype=np.int64)
    if counts.ndim != 1 or counts.size < 2 or (np.diff(counts) > 0).any() or counts[-1] < 0:
        raise ValueError(
            f"survivors: {counts.tolist()}; allowed: at least two counts, none negative, "
            "never increasing"
        )
    if billing not in BILLING_DAYS:
        raise ValueError(f"billing: {billing!r}; allowed: {', '.join(BILLING_DAYS)}")
    days = BILLING_DAYS[billing]
    lasted = np.repeat(np.arange(1, counts.size), -np.diff(counts))  # period they left in
    lasted = np.concatenate([lasted, np.full(counts[-1], counts.size - 1)])
    left = np.arange(lasted.size) < counts[0] - counts[-1]
    users = np.array([f"c{i}" for i in range(lasted.size)])
    origin = pd.Timestamp(start)
    rows = [
        pd.DataFrame({"user_id": users, "timestamp": origin, "event_type": "subscribe",
                      "amount": price, "plan": plan, "price": price, "billing": billing})
    ]  # fmt: skip
    renewals = lasted - left.astype(np.int64)  # period ends renewed: the leaver's last is not
    owner = np.repeat(np.arange(lasted.size), renewals)
    k = np.concatenate([np.arange(1, r + 1) for r in renewals]) if owner.size else owner
    renew_at = origin + pd.to_timedelta(k * days, unit="D")
    cancel_at = origin + pd.to_timedelta(lasted[left] * days, unit="D")
    rows.append(
        pd.DataFrame({"user_id": users[owner], "timestamp": renew_at, "event_type": "renew",
                      "amount": price, "plan": plan})
    )  # fmt: skip
    rows.append(
        pd.DataFrame({"user_id": users[left], "timestamp": cancel_at, "event_type": "cancel",
                      "plan": plan})
    )  # fmt: skip
    out = pd.concat(rows, ignore_index=True)
    out["timestamp"] = pd.to_datetime(out.timestamp).dt.strftime("%Y-%m-%d")
    return out.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
