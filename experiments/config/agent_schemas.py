"""Structured schemas of the agent nodes in ``conf/agent/``, one per agent family, so that
Hydra rejects an unknown key or a wrong type while it composes the config.

Each ``conf/agent/*.yaml`` names its family's schema in its defaults list
(``- /agent_schema/bandit@thompson``). Every key but ``_target_`` defaults to ``None``:
"not given", so the target's own default applies (defaults are written once, in the
target's signature or the YAML file). Value ranges are checked by the target's
``validate``. A node of your own (``+agent.mine._target_=...``) has no schema: its keyword
names are checked against the target's signature instead.

``FAMILIES`` also is the allow-list of the project's own agent targets (``targets.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional  # noqa: UP035  (OmegaConf reads typing forms)

from omegaconf import MISSING

# OmegaConf reads these annotations at run time: typing forms, Optional for None.
# ruff: noqa: UP006, UP045
# The field lists repeat the targets' keyword names on purpose (a test keeps them equal):
# derived at import, they would import every agent's module (torch) to compose any config.


@dataclass
class AgentSchema:
    _target_: str = MISSING
    name: Optional[str] = None


@dataclass
class NoOfferSchema(AgentSchema):
    pass


@dataclass
class RandomSchema(AgentSchema):
    seed: Optional[int] = None


@dataclass
class BlanketSchema(AgentSchema):
    offer: Optional[str] = None  # an offer name, or "all": one blanket policy per offer


@dataclass
class CampaignSchema(AgentSchema):
    offers: Optional[List[str]] = None  # offer names; each drawn user gets one at random
    holdout_share: Optional[float] = None
    campaign: Optional[str] = None
    redraw_after_days: Optional[int] = None
    seed: Optional[int] = None


@dataclass
class RulesSchema(AgentSchema):
    """The offer each exit-survey reason (playbook) or hidden pain point (pain-point rule) gets."""

    price: Optional[str] = None
    content_churned: Optional[str] = None
    content: Optional[str] = None
    discovery: Optional[str] = None
    technical: Optional[str] = None


@dataclass
class PlaybookSchema(RulesSchema):
    default: Optional[str] = None
    min_recency_days: Optional[float] = None
    reasons: Optional[str] = None  # survey (default), predicted or both (need the scores)


@dataclass
class ScoredPlaybookSchema(PlaybookSchema):
    train_users: Optional[int] = None
    seed: Optional[int] = None


@dataclass
class PainPointRuleSchema(RulesSchema):
    min_trait: Optional[float] = None


@dataclass
class FullInformationSchema(AgentSchema):
    pooled: Optional[bool] = None
    reps: Optional[int] = None
    days: Optional[int] = None
    z: Optional[float] = None
    lapsed_only: Optional[bool] = None
    seed: Optional[int] = None


@dataclass
class BanditSchema(AgentSchema):
    kind: Optional[str] = None
    pretrain_users: Optional[int] = None
    attribution_days: Optional[int] = None
    budget_per_period: Optional[float] = None
    seed: Optional[int] = None
    epsilon: Optional[float] = None
    ucb_c: Optional[float] = None
    prior_var: Optional[float] = None
    alpha: Optional[float] = None
    ridge: Optional[float] = None
    reasons: Optional[str] = None  # epsilon, ucb, thompson: survey, predicted or both
    reason_train_users: Optional[int] = None


@dataclass
class UpliftSchema(AgentSchema):
    users: Optional[int] = None
    block: Optional[int] = None
    attribution_days: Optional[int] = None
    hidden: Optional[List[int]] = None
    epochs: Optional[int] = None
    learning_rate: Optional[float] = None
    batch_size: Optional[int] = None
    threshold: Optional[float] = None
    min_weeks_between_offers: Optional[int] = None
    budget_per_period: Optional[float] = None
    pool_size: Optional[int] = None
    members: Optional[int] = None
    rounds: Optional[int] = None
    history_weeks: Optional[int] = None
    seed: Optional[int] = None
    progress: Optional[bool] = None


@dataclass
class SB3Schema:
    _target_: str = MISSING
    algorithm: Optional[str] = None
    num_envs: Optional[int] = None
    horizon_weeks: Optional[int] = None
    total_timesteps: Optional[int] = None
    seed: Optional[int] = None
    learning_rate: Optional[float] = None
    lr_schedule: Optional[str] = None
    n_steps: Optional[int] = None
    batch_size: Optional[int] = None
    gamma: Optional[float] = None
    gae_lambda: Optional[float] = None
    n_epochs: Optional[int] = None
    ent_coef: Optional[float] = None
    net_arch: Optional[List[int]] = None
    reward_scale: Optional[float] = None
    reward: Optional[str] = None
    start: Optional[str] = None
    log_dir: Optional[str] = None
    checkpoint_every: Optional[int] = None
    eval_every: Optional[int] = None
    eval_users: Optional[int] = None
    keep_best: Optional[bool] = None
    progress_bar: Optional[bool] = None


FAMILIES: dict[str, tuple[str, type]] = {
    "no_offer": ("agents.reference.NoOffer", NoOfferSchema),
    "random": ("agents.reference.RandomPolicy", RandomSchema),
    "blanket": ("agents.reference.Blanket", BlanketSchema),
    "campaign": ("agents.reference.Campaign", CampaignSchema),
    "playbook": ("agents.reference.Playbook", PlaybookSchema),
    "playbook_scored": ("agents.scores.scored_playbook", ScoredPlaybookSchema),
    "pain_point_rule": ("agents.reference.PainPointRule", PainPointRuleSchema),
    "full_information": ("agents.reference.FullInformation", FullInformationSchema),
    "bandit": ("agents.bandits.make_bandit", BanditSchema),
    "uplift": ("agents.uplift.train_uplift", UpliftSchema),
    "sb3": ("agents.rl.train", SB3Schema),
}
"""Schema name in ``agent_schema/`` -> (the project's target it describes, its schema)."""
