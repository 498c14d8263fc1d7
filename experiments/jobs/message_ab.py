"""``winback message-ab``: a preset's message effect in a one-off A/B test, side by side with
Hillstrom's randomised e-mail test (``sim.message_ab``)."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from experiments.files import strict_json
from sim import presets
from sim.message_ab import HILLSTROM, MessageAB, message_ab


def run_from_args(args: argparse.Namespace) -> int:
    scenario = presets.SCENARIOS[args.scenario](n_users=args.users)
    catalogue = presets.offers_for(args.scenario)
    offer = catalogue.offers[catalogue.index(args.offer)]  # validated before any simulation
    result = message_ab(
        scenario,
        offer,
        seeds=args.seeds,
        window_days=args.window_days,
        history_days=args.history_days,
        statuses=args.statuses,
    )
    print("\n".join(lines(result)))
    if args.json:
        lifts = {k: getattr(result, k)._asdict() for k in ("conversion_lift", "spend_lift")}
        print(strict_json({**asdict(result), **lifts, "hillstrom_ranges": result.against()}))
    return 0


def lines(result: MessageAB) -> list[str]:
    """The test's figures next to the published ones, in plain words."""
    ranges = result.against()
    conv_lo, conv_hi = ranges["conversion_lift"]
    spend_lo, spend_hi = ranges["spend_lift"]
    c, s = result.conversion_lift, result.spend_lift
    hs = HILLSTROM.spend_lifts()
    return [
        f"{result.scenario}: {result.offer} to {result.customers:,} customers active within "
        f"{result.history_days} days ({', '.join(result.statuses)}), seeds "
        f"{', '.join(map(str, result.seeds))}, outcomes over {result.window_days} days; "
        f"{result.opened:.1%} opened",
        f"control conversion   {result.control_conversion:8.2%}   Hillstrom "
        f"{HILLSTROM.control.conversion:.2%}",
        f"control spend        {result.control_spend:8.2f}   Hillstrom "
        f"{HILLSTROM.control.spend_per_customer:.2f} per customer; per buyer "
        f"{result.control_spend_per_buyer:.2f} vs {HILLSTROM.control.spend_per_purchaser:.2f}",
        f"conversion lift      {100 * c.mean:+8.3f} pp (95% CI {100 * c.low:+.3f} to "
        f"{100 * c.high:+.3f})   Hillstrom {100 * conv_lo:+.2f} to {100 * conv_hi:+.2f} pp: "
        f"{_verdict(c.mean, conv_lo, conv_hi)}",
        f"spend lift           {s.mean:+8.3f} (95% CI {s.low:+.3f} to {s.high:+.3f})   "
        + (
            f"Hillstrom {hs[0]:+.2f} to {hs[1]:+.2f}, x {result.control_spend_per_buyer:.2f} / "
            f"{HILLSTROM.control.spend_per_purchaser:.2f} per buyer = {spend_lo:+.3f} to "
            f"{spend_hi:+.3f}: {_verdict(s.mean, spend_lo, spend_hi)}"
            if result.business == "transactional"
            else "subscription fees: Hillstrom's purchase spend is no counterpart"
        ),
    ]


def _verdict(value: float, low: float, high: float) -> str:
    if value < low:
        return f"below the range ({low / value:.1f}x too small)" if value > 0 else "below"
    return "above the range" if value > high else "in the range"
