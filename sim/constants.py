"""Names and integer codes shared by the whole simulator."""

from __future__ import annotations

from typing import Final

ACTIVE: Final = 0
DORMANT: Final = 1
CHURNED: Final = 2
STATES: Final = ("active", "dormant", "churned")

PAIN_POINTS: Final = ("price", "content", "discovery", "technical", "none")
PRICE, CONTENT, DISCOVERY, TECHNICAL, NO_PAIN = range(5)

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

# Money components accounted per user (index into the per-user totals matrix).
MONEY: Final = (
    "revenue",  # gross, at list price (subscription fee or purchase margin)
    "discount_cost",  # revenue forgone against list price while a discount runs
    "trial_cost",  # revenue forgone during free-trial days
    "serving_cost",  # cost of serving sessions
    "message_cost",  # cost per message sent
    "support_cost",  # cost per support contact made
)
REVENUE, DISCOUNT_COST, TRIAL_COST, SERVING_COST, MESSAGE_COST, SUPPORT_COST = range(6)

NO_OFFER: Final = -1

DAYS_PER_MONTH = 30.0
