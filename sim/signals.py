"""Behavioural signals: what a company logs that shows why a customer might leave.

The rules:

- Each signal belongs to one family, and a family is the pain point whose latent trait it
  shows: ``technical`` the technical-issue propensity (``tech``), ``discovery`` the discovery
  friction (``friction``), ``content`` the content need (``content_need``), ``price`` the
  price sensitivity (``price_sens``).
- Signals happen at sessions (a streaming visit, a retail purchase visit). Over a stretch of
  ``k`` sessions a user shows signal ``j`` ``Poisson(k x base_j x m_ij)`` times, with
  ``m_ij = (1 - s) x noise_ij + s x trait_i / TRAIT_REF``: ``s`` is the family's strength
  (``scenario.signals``), ``noise_ij`` the user's own mean-one exponential multiplier for
  that signal (drawn once, like a latent trait, and unrelated to any), ``TRAIT_REF`` about a
  trait's population mean.
- Strength 0 is pure noise: the rate per session differs between users, for no reason that
  has to do with why they leave. Strength 1 makes it proportional to the trait: a user with
  the pain point shows the family's signals about six times as often per session as one
  without (trait means 0.64 and 0.11, ``sim.population._traits``).
- Signals change nothing: no hazard reads them, and they are drawn from a stream of their
  own (``sim.kernel.dynamics``), so every other number of a run is the same at any strength.
- A user's counts run from the start of the history the company holds (the warm-up), as do
  their sessions; the event log writes them as one row per user, day and signal, the day of
  the stretch's last session, ``amount`` the count.

Base rates per session are illustrative (no public data gives them per pain point): a few
app errors and failed sign-ins per hundred visits, a search that ends without playing or
buying in one visit of five, and so on (README, "Behavioural signals").
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sim.constants import PAIN_POINTS

FAMILIES: Final = PAIN_POINTS[:4]
"""Signal families, in the order of the pain points whose trait each shows."""

SIGNALS: Final = (
    ("app_error", "technical", 0.05),  # a playback or checkout error
    ("failed_signin", "technical", 0.02),
    ("search_abandoned", "discovery", 0.20),  # a search that ended without playing or buying
    ("title_abandoned", "discovery", 0.10),  # a title (or a basket) started and left
    ("title_finished", "content", 0.25),  # a title of one's taste watched through
    ("pricing_page_view", "price", 0.03),
    ("payment_failure", "price", 0.01),
)
"""(name, family, base rate per session) of every signal, in the order of the count arrays."""

SIGNAL_NAMES: Final = tuple(name for name, _, _ in SIGNALS)
SIGNAL_COLUMNS: Final = tuple(f"signal_{name}" for name in SIGNAL_NAMES)
"""The observation's signal features, one per signal, in the same order."""
TRAIT_REF: Final = 0.25  # about a trait's population mean (0.25 x 0.64 + 0.75 x 0.11 = 0.24)
DEFAULT_STRENGTH: Final = 0.5
RATE_SCALE: Final = 4.0  # the observation's signal rate: per session / (RATE_SCALE x base)


def family_of(name: str) -> str:
    """The family of signal ``name``."""
    return dict((n, f) for n, f, _ in SIGNALS)[name]


def kernel_table(strengths: dict[str, float]) -> np.ndarray:
    """(signals, 3) float64 rows (family index, base rate, strength) the dynamics kernel
    reads; ``strengths`` maps each family to its strength."""
    return np.array(
        [(FAMILIES.index(f), base, strengths[f]) for _, f, base in SIGNALS], dtype=np.float64
    )


def base_rates() -> np.ndarray:
    """Each signal's base rate per session, float64 in :data:`SIGNALS` order."""
    return np.array([base for _, _, base in SIGNALS], dtype=np.float64)
