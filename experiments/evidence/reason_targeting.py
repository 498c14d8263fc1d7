"""Targeting by the reason read from behaviour: the playbook by exit survey against the same
rule book by predicted pain point (``agents.scores.scored_playbook``), at a signal strength.

For each policy: incremental profit per 1,000 customers over the year (mean over seeds with a
95% t interval, on common random numbers against sending nothing) and, per latent pain point,
the share of its sends that were the offer made for it (a discount for price, free trial or
new-release message for content, recommendations for discovery, support call for
technical). A policy that targets by pain point sends matched offers far more often than the
mix of pain points alone would::

    python -m experiments.evidence.reason_targeting             # 50,000 users, 3 seeds
    python -m experiments.evidence.reason_targeting --strength 0
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import pandas as pd

from agents.evaluate import evaluate, t_interval
from agents.reference import Playbook
from agents.scores import scored_playbook
from sim import Signals, presets

MATCHED = {
    "price": ("discount_30", "discount_50_sms"),
    "content": ("free_trial_30", "new_release_push"),
    "discovery": ("recommendations",),
    "technical": ("support_call",),
}


def matched_shares(mix: pd.DataFrame, column: str = "agent") -> pd.DataFrame:
    """Per agent (rows, the index named ``column``) and latent pain point ``p``: column
    ``p``, the share of the sends to pain point ``p`` that were the offer made for it, and
    ``p_elsewhere``, the share of the sends to every other pain point that were that same
    offer. Targeting by pain point is the gap between the two; a policy blind to the pain
    point sends its offers in the same proportions to all (no gap)."""
    if mix.empty:
        return pd.DataFrame(index=pd.Index([], name=column))
    rows = []
    for name, part in mix.groupby("agent", sort=False):
        row: dict[str, object] = {column: name}
        for pain, offers in MATCHED.items():
            matched = part.offer.isin(offers)
            own = part.pain_point == pain
            row[pain] = _share(part.sends[own & matched], part.sends[own])
            row[f"{pain}_elsewhere"] = _share(part.sends[~own & matched], part.sends[~own])
        rows.append(row)
    return pd.DataFrame(rows).set_index(column).sort_index()


def _share(part: pd.Series, whole: pd.Series) -> float:
    return float(part.sum() / whole.sum()) if whole.sum() > 0 else float("nan")


def targeting(
    strength: float, users: int, seeds: tuple[int, ...], train_users: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(incremental profit per 1,000 customers by policy, matched share by policy and pain
    point)."""
    s = strength
    scenario = replace(presets.streaming(n_users=users), signals=Signals(s, s, s, s))
    catalogue = presets.streaming_offers()
    scored = scored_playbook(scenario=scenario, train_users=train_users, reasons="both")
    predicted = scored_playbook(
        scenario=scenario, train_users=train_users, reasons="predicted", name="predicted"
    )
    agents = {
        "playbook (survey)": Playbook,
        "playbook (survey, else predicted)": scored.fresh,
        "playbook (predicted)": predicted.fresh,
    }
    result = evaluate(agents, scenario, catalogue, list(seeds))
    tidy = result.tidy[result.tidy.metric == "incremental_profit"]
    profit = pd.DataFrame(
        [
            {"policy": name, **t_interval(part.value.to_numpy() / users * 1_000)}
            for name, part in tidy.groupby("agent", sort=False)
        ]
    )
    shares = matched_shares(result.offer_mix, column="policy")
    return profit, shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strength", type=float, default=0.5)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-users", type=int, default=50_000)
    args = parser.parse_args()
    profit, shares = targeting(
        args.strength, args.users, tuple(range(1, args.seeds + 1)), args.train_users
    )
    with pd.option_context("display.width", 160, "display.float_format", "{:,.2f}".format):
        print(f"signal strength {args.strength}, {args.users:,} customers, {args.seeds} seeds")
        print(profit.to_string(index=False))
        print("\nshare of each pain point's sends that were its own offer (_elsewhere: the")
        print("share of the other pain points' sends that were that same offer)")
        print(shares.round(2).to_string())


if __name__ == "__main__":
    main()
