"""Names, integer codes and fixed quantities shared by the whole simulator, each defined once.

The compiled kernels (``sim.kernel``) read these as compile-time constants, and numba's
on-disk cache notices a change only to the kernel's own file: after changing a value here,
delete ``sim/kernel/__pycache__`` (a fresh checkout has none).
"""

from __future__ import annotations

from typing import Final

ACTIVE: Final = 0
DORMANT: Final = 1
CHURNED: Final = 2
STATES: Final = ("active", "dormant", "churned")
N_STATES: Final = len(STATES)

PAIN_POINTS: Final = ("price", "content", "discovery", "technical", "none")
NO_ANSWER: Final = "no answer"  # the stated reason of a user who gave no exit-survey answer
PRICE, CONTENT, DISCOVERY, TECHNICAL = range(4)  # the pain points a latent trait drives

CHANNELS: Final = ("email", "push", "sms")

OFFER_KINDS: Final = (
    "discount",  # lower price paid for a duration; moves the price-sensitive
    "free_trial",  # free days on return; moves the content-starved
    "recommendation",  # personalised picks; lowers discovery friction
    "support",  # troubleshooting outreach; fixes technical issues
    "content_message",  # new-release message; amplifies fresh content that matches taste
    "reminder",  # plain nudge
)

BUSINESS_MODES: Final = ("subscription", "transactional")

ARMS: Final = ("treatment", "holdout")  # a randomised campaign's arms (holdout: drawn, not sent)

# Money components accounted per user (index into the per-user totals matrix).
MONEY: Final = (
    "revenue",  # gross, at list price (subscription fee or purchase margin)
    "discount_cost",  # revenue forgone against list price while a discount runs
    "trial_cost",  # revenue forgone during free-trial days
    "serving_cost",  # cost of serving sessions
    "message_cost",  # cost per message sent
    "support_cost",  # cost per support contact made
    "unsubscribe_cost",  # value of the reachability lost when a message makes a user opt out
)
REVENUE, DISCOUNT_COST, TRIAL_COST, SERVING_COST, MESSAGE_COST, SUPPORT_COST = range(6)
UNSUBSCRIBE_COST = 6
# An opt-out loses a year of the customer's reach on the channel (Hillstrom's "unsubscribe
# factor"); the run sees the part before its horizon, so only the part beyond is charged.
REACH_LOST_DAYS: Final = 365.0

NO_OFFER: Final = -1  # a user's last offer before any was sent
RETENTION_DAYS: Final = (30, 90)  # retention checks after a first reactivation (retained30/90)

DAYS_PER_MONTH: Final = 30.0  # monthly prices are charged as monthly / 30 per day
# Billing periods in days: a cancellation takes effect at the end of the period it is made in
# (periods run from the (re)subscription); a plan billed "none" ends at once.
BILLING_DAYS: Final = {"monthly": 30, "annual": 365}
BILLINGS: Final = ("none", *BILLING_DAYS)
SESSION_WEEKS: Final = 13  # ring of weekly session counts (features over 4 and 13 weeks)
RECENT_WEEKS: Final = 4  # the short session window (sessions_4w)
SEND_WEEKS: Final = 4  # ring of weekly sends per channel (frequency caps per 28 days)

# Scales of the observation vector (``sim.kernel.observation.encode``; documented in
# ``sim.envs.observation.OBSERVATION_DOC``): each feature divided by its scale, capped at 1.
RECENCY_SCALE_DAYS: Final = 365.0  # days since the last session, and since the last offer
TENURE_SCALE_DAYS: Final = 1825.0  # days since sign-up
SESSIONS_PER_DAY_SCALE: Final = 2.0  # sessions over a window / (2 a day over its days)
OFFER_COUNT_SCALE: Final = 20.0  # offers received, offers opened
REVENUE_SCALE: Final = 5000.0  # revenue to date: log1p(revenue) / log1p(REVENUE_SCALE)
