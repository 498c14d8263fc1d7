"""What an off-policy estimate may be trusted for, in plain words.

Rules, in order (the first that applies decides whether the log supports the estimate):

* **Unsupported**: the target puts probability on an action the logger could never take in
  that round (``logging_dist`` 0, or, without it, an action the log never took at all) in
  at least ``UNSUPPORTED`` of the rounds. No estimator can know what happens then: IPS and
  SNIPS count those rounds as earning nothing, DM and DR guess them from the reward model.
* **Weights that do not average 1**: under the logger, a target's weights average 1 exactly
  when the logger could do whatever the target does; a mean below 1 by more than three
  standard errors (and ``WEIGHT_GAP``) means the target does, for about that share of the
  decisions, what the logger could not do there (which a log without the logger's whole
  distribution cannot show otherwise: a channel the customer cannot be reached on), or the
  logged propensities are wrong.
* **Too little weight**: the weighted log is worth fewer than ``MIN_ESS`` rounds (effective
  sample size): the log barely tried what the target does.
* **Estimators disagree**: DR's and IPS's 95% intervals do not overlap: the reward model or
  the propensities are wrong somewhere.
* Otherwise the log supports the estimate.

Repeated decisions (a customer decided for more than once) add a statement of the estimand:
each decision is read as a one-step choice (a contextual bandit), which holds only if a
decision does not change the later decisions and contexts the log holds; the value of
running the target week after week is then not what is estimated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.ope.estimators import Diagnostics, Estimate

HEADLINE = "dr"  # the estimator the verdict quotes: unbiased if either the model or the
# propensities are right, and the lowest error in ``winback ope-bench``
UNSUPPORTED = 0.01
MIN_ESS = 100.0
WEIGHT_GAP = 0.05


@dataclass(frozen=True, kw_only=True)
class Reading:
    supported: bool
    headline: str  # one sentence: supported or not, and why
    details: list[str]  # the other sentences


def unsupported_actions(
    target: np.ndarray, support: np.ndarray, names: list[str]
) -> dict[str, float]:
    """Per action the target takes where the log never could: the share of rounds."""
    off = (target > 0) & ~support
    return {names[a]: float(off[:, a].mean()) for a in range(len(names)) if off[:, a].any()}


def support_of(
    logging_dist: np.ndarray | None, action: np.ndarray, n_actions: int, n: int
) -> np.ndarray:
    """Where the logger could act (n, actions): its distribution's support, or without it
    every action the log took somewhere (an action never logged is never supported)."""
    if logging_dist is not None:
        return np.asarray(logging_dist) > 0
    seen = np.isin(np.arange(n_actions), np.unique(action))
    return np.broadcast_to(seen, (n, n_actions))


def reading(
    policy: str,
    estimates: list[Estimate],
    health: Diagnostics,
    unsupported: dict[str, float],
    rounds: int,
    repeated_share: float,
) -> Reading:
    """The verdict (see the module doc)."""
    by = {e.estimator: e for e in estimates}
    details = []
    share = max(unsupported.values(), default=0.0)
    if repeated_share > 0:
        details.append(
            f"{repeated_share:.0%} of the customers were decided for more than once: each "
            "decision is read as a one-step choice, which holds only if one decision does "
            "not change the later ones the log holds; this is not the value of running "
            f"{policy} week after week."
        )
    ess = health.effective_sample_size
    details.append(
        f"The log's {rounds:,} decisions weigh as {ess:,.0f} for {policy} (effective "
        f"sample size; largest weight {health.max_weight:,.1f})."
    )
    if share >= UNSUPPORTED:
        what = ", ".join(f"{name} for {_share(s)}" for name, s in sorted(unsupported.items()))
        return Reading(
            supported=False,
            headline=(
                f"Not supported: {policy} takes actions the log never tried there for "
                f"{(health.unsupported_share or share):.0%} of the decisions ({what}). No "
                "estimator knows what happens then: IPS and SNIPS count them as earning "
                "nothing, DM and DR guess them from the reward model."
            ),
            details=details,
        )
    gap = 1.0 - health.mean_weight
    if abs(gap) > max(3 * health.mean_weight_se, WEIGHT_GAP):
        why = (
            f"{policy} does, for about {gap:.0%} of the decisions, what the logger could not "
            "do there (e.g. an offer on a channel the customer cannot be reached on)"
            if gap > 0
            else "they are too large"
        )
        return Reading(
            supported=False,
            headline=(
                f"Not supported: the weights average {health.mean_weight:.2f} (+/- "
                f"{health.mean_weight_se:.2f}) where they should average 1: either the "
                f"log's propensities are wrong or {why}. IPS undercounts such decisions; "
                "DM and DR guess them from the reward model."
            ),
            details=details,
        )
    if ess < MIN_ESS:
        return Reading(
            supported=False,
            headline=(
                f"Too little evidence: the log barely tried what {policy} does (its "
                f"decisions weigh as {ess:,.0f}, fewer than {MIN_ESS:.0f})."
            ),
            details=details,
        )
    dr, ips = by.get("dr"), by.get("ips")
    if dr is not None and ips is not None and (dr.high < ips.low or ips.high < dr.low):
        return Reading(
            supported=False,
            headline=(
                f"The estimators disagree: DR says {dr.value:,.2f} ({dr.low:,.2f} to "
                f"{dr.high:,.2f}), IPS {ips.value:,.2f} ({ips.low:,.2f} to {ips.high:,.2f}) "
                "a decision: one of them is off, by chance (IPS's error is the larger: it "
                "rests on the few decisions where the log did what the policy does) or because "
                "the reward model or the logged propensities are wrong; lean on neither alone."
            ),
            details=details,
        )
    return Reading(
        supported=True,
        headline=(
            f"The log supports this estimate: it tried what {policy} does often enough "
            "(every action it takes was possible for the logger) and the estimators agree."
        ),
        details=details,
    )


def _share(value: float) -> str:
    return "under 1%" if 0 < value < 0.005 else f"{value:.0%}"
