"""What a send is worth at face value: the charge a budget counts for each offer.

A send costs its channel and offer cost at once; a discount or free days cost revenue later,
counted here at the average list price of the scenario's plans; a support offer costs its
contact. Budgets (the bandits', the uplift policy's, ``WinBackCampaign-v0``'s) charge this.
"""

from __future__ import annotations

import numpy as np

from sim.constants import DAYS_PER_MONTH
from sim.messaging import OfferTable
from sim.scenario import Scenario


def face_values(scenario: Scenario, table: OfferTable) -> np.ndarray:
    """Budget charge per send of each offer: send cost plus the offer's face value
    (discount or free days at the average list price, support cost)."""
    price_day = np.mean([p.monthly_price for p in scenario.plans]) / DAYS_PER_MONTH
    disc = table.discount * table.duration * price_day
    trial = table.trial_days * price_day
    return table.send_cost + disc + trial + table.support_cost
