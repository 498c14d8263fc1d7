"""The user population as a struct of numpy arrays (one row per user, no per-user objects).

Latent traits decide how users respond and are hidden from policies; observable fields are
earned by the simulated behaviour (sessions, offers, unsubscribes, survey answers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import partial

import numpy as np
from numba import njit, prange

from sim.calendar import daily_prices
from sim.constants import (
    CHANNELS,
    CHURNED,
    CONTENT,
    DISCOVERY,
    MONEY,
    NO_OFFER,
    PAIN_POINTS,
    PRICE,
    SEND_WEEKS,
    SESSION_WEEKS,
    STATES,
    TECHNICAL,
)
from sim.scenario import Scenario
from sim.signals import SIGNAL_NAMES

F32 = np.float32
NEVER = -np.inf


@dataclass
class Population:
    """All per-user arrays. ``n`` rows; users are sorted by segment."""

    # --- latent (never shown to a policy) ---
    segment: np.ndarray  # uint8
    pain: np.ndarray  # uint8, index into PAIN_POINTS
    price_sens: np.ndarray  # float32 in [0, 1]
    content_need: np.ndarray  # float32 in [0, 1]
    friction: np.ndarray  # float32 in [0, 1] discovery friction
    tech: np.ndarray  # float32 in [0, 1] technical-issue propensity
    affinity: np.ndarray  # float32 (genres, n), each user's column sums to 1
    responsiveness: np.ndarray  # float32 (n, channels) propensity to open
    deal_seeker: np.ndarray  # bool
    lapse_mult: np.ndarray  # float32 gamma multiplier on leaving hazards
    return_mult: np.ndarray  # float32 gamma multiplier on returning hazards
    activity_mult: np.ndarray  # float32 gamma multiplier on session rates
    basket: np.ndarray  # float32 mean purchase value (transactional)
    genre_counts: np.ndarray  # float32 (genres, n) sessions by genre seen so far, from
    # pseudo-counts at sign-up (a blur) plus each session's expected genre mix
    signal_noise: np.ndarray  # float32 (n, signals) mean-one multipliers unrelated to any
    # trait: each signal's rate per session at strength 0 (sim.signals)
    # --- state and observable history ---
    state: np.ndarray  # uint8, index into STATES
    plan: np.ndarray  # uint8
    anchor_price: np.ndarray  # float32 daily list price when the user signed up
    signup_day: np.ndarray  # float32
    subscribed_at: np.ndarray  # float64 start of the current subscription (sign-up, or the
    # latest comeback): billing periods run from here
    cancel_at: np.ndarray  # float64 when a pending cancellation takes effect (+inf: none)
    last_activity: np.ndarray  # float32 day of the last session (-inf: none seen)
    sessions_week: np.ndarray  # uint8 (SESSION_WEEKS, n) ring of weekly session counts
    total_sessions: np.ndarray  # float32
    signals: np.ndarray  # float32 (n, signals) each behavioural signal shown so far (a
    # user's counts side by side: the kernel reads and writes them together)
    revenue_to_date: np.ndarray  # float32 paid by the user so far (the warm-up on)
    reachable: np.ndarray  # bool (n, channels)
    sends_week: np.ndarray  # uint8 (channels, SEND_WEEKS, n) ring of weekly sends
    fatigue: np.ndarray  # float32 decayed count of recent messages
    fatigue_day: np.ndarray  # float32 when fatigue was last updated
    n_offers: np.ndarray  # uint16
    n_opened: np.ndarray  # uint16
    last_offer: np.ndarray  # int16 (-1: none)
    last_offer_day: np.ndarray  # float32
    last_opened: np.ndarray  # int8 (-1: never offered, 0: not opened, 1: opened)
    offers_sent: np.ndarray  # uint32 bit k: catalogue offer k was ever sent
    offers_opened: np.ndarray  # uint32 bit k: catalogue offer k was ever opened
    survey: np.ndarray  # int8 survey reason (-1: no answer)
    # --- active effects (day until which each acts; -inf: none) ---
    disc_until: np.ndarray
    disc_depth: np.ndarray
    trial_until: np.ndarray
    trial_window_until: np.ndarray
    trial_len: np.ndarray
    fix_until: np.ndarray
    rec_until: np.ndarray
    content_until: np.ndarray
    boost_until: np.ndarray
    boost: np.ndarray
    next_change: np.ndarray  # earliest future effect end (+inf: none)
    # --- accounting over the horizon ---
    money: np.ndarray  # float32 (len(MONEY), n), component-major
    reactivations: np.ndarray  # uint16
    first_react: np.ndarray  # float32 (nan: none)
    retained30: np.ndarray  # int8 (-1: not evaluated)
    retained90: np.ndarray  # int8
    ever_inactive: np.ndarray  # bool: dormant or churned at some time in the horizon
    messages: np.ndarray  # uint16 messages sent in the horizon
    unsubscribed: np.ndarray  # uint8 unsubscribes in the horizon

    @property
    def n(self) -> int:
        return int(self.state.shape[0])

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))


def _mix_draw(rng: np.random.Generator, n: int, names: list[str], mix: dict) -> np.ndarray:
    probs = np.array([mix.get(name, 0.0) for name in names], dtype=np.float64)
    return rng.choice(len(names), size=n, p=probs / probs.sum()).astype(np.uint8)


def _traits(rng: np.random.Generator, pain: np.ndarray) -> tuple[np.ndarray, ...]:
    """Price sensitivity, content need, friction, tech in [0, 1]: high (Kumaraswamy(3, 2),
    mean 0.64) for the user's own pain point, low (Kumaraswamy(1, 8), mean 0.11) otherwise."""
    n = pain.shape[0]
    out = []
    for code in (PRICE, CONTENT, DISCOVERY, TECHNICAL):
        trait = kumaraswamy(rng, 1.0, 8.0, n)
        mine = np.flatnonzero(pain == code)
        trait[mine] = kumaraswamy(rng, 3.0, 2.0, mine.size)
        out.append(trait)
    return tuple(out)


def kumaraswamy(
    rng: np.random.Generator, a: float | np.ndarray, b: float | np.ndarray, n: int
) -> np.ndarray:
    """Kumaraswamy(a, b) draws: a Beta-like law on [0, 1] with a closed-form inverse CDF,
    x = (1 - (1 - u)^(1/b))^(1/a), so a million draws cost two powers, not two gammas."""
    u = rng.random(n, dtype=F32)
    return ((1.0 - (1.0 - u) ** (1.0 / np.asarray(b, F32))) ** (1.0 / np.asarray(a, F32))).astype(
        F32
    )


def _dirichlet(rng: np.random.Generator, alpha: float, n: int, k: int) -> np.ndarray:
    """Symmetric Dirichlet(alpha) over k categories, one column per user: (k, n) float32."""
    if alpha == 1.0:
        g = rng.standard_exponential(size=(k, n), dtype=F32)
    else:
        g = rng.standard_gamma(alpha, size=(k, n), dtype=F32)
    g = np.maximum(g, np.finfo(F32).tiny)
    return g / g.sum(axis=0, keepdims=True)


def _responsiveness(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Per-channel propensity to open with the given means (Kumaraswamy with a = 1, whose
    mean is 1 / (1 + b))."""
    m = np.clip(mean, 1e-3, 1 - 1e-3)
    b = (1.0 - m) / m
    shape = mean.shape
    return kumaraswamy(rng, 1.0, b.reshape(-1), int(np.prod(shape))).reshape(shape)


def _gamma_mult(rng: np.random.Generator, shape: np.ndarray) -> np.ndarray:
    """Mean-one gamma multipliers (heterogeneity across users)."""
    return (rng.standard_gamma(shape) / shape).astype(F32)


def sample_population(
    scenario: Scenario, rng: np.random.Generator, survivors: bool = True
) -> Population:
    """Draw ``scenario.n_users`` users from the segment mixture (sorted by segment): each
    segment's categorical draws, then the latent traits, then an empty observable history.
    The draws' order is part of the result: a reordering changes every user. A
    subscription's customers are the survivors their start state selects
    (:func:`lived_lifecycles`); ``survivors=False`` keeps every draw as at sign-up (the law
    a calibration integrates traits over)."""
    seg_w = np.array([s.weight for s in scenario.segments], dtype=np.float64)
    counts = rng.multinomial(scenario.n_users, seg_w / seg_w.sum())
    segment = np.repeat(np.arange(len(counts), dtype=np.uint8), counts)
    drawn = _by_segment(scenario, counts, rng)
    resp_mean = drawn.pop("resp_mean")
    latent = _latent(scenario, segment, drawn["pain"], resp_mean, rng)
    if scenario.is_subscription:
        life = (
            lived_lifecycles(scenario, segment, drawn["state"], drawn["pain"], latent, rng)
            if survivors
            else Lifecycles.of(scenario, segment, latent)
        )
        tenure = lived_tenure(scenario, drawn["state"], latent, life)
        latent["signup_day"] = (-scenario.warmup_days - tenure).astype(F32)
    anchor_price = daily_prices(p.monthly_price for p in scenario.plans)[drawn["plan"]]
    latent["signal_noise"] = signal_noise(rng, scenario.n_users)
    return Population(
        segment=segment,
        anchor_price=anchor_price,
        subscribed_at=latent["signup_day"].astype(np.float64),
        **drawn,
        **latent,
        **_empty_history(scenario.n_users),
    )


def signal_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Each user's mean-one exponential multiplier per signal (``sim.signals``), from a
    child of ``rng`` (spawning leaves ``rng``'s own draws, and so every other trait, as
    they were before signals existed)."""
    child = rng.spawn(1)[0]
    return child.standard_exponential(size=(n, len(SIGNAL_NAMES)), dtype=F32)


def _multiplier_shapes(scenario: Scenario, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each user's gamma shapes of the leave and return multipliers (``heterogeneity``;
    ``return_heterogeneity``, or the leave shape where that is 0)."""
    leave = _per_user(scenario, segment, "heterogeneity")
    own = _per_user(scenario, segment, "return_heterogeneity")
    return leave, np.where(own > 0, own, leave)


def _per_user(scenario: Scenario, segment: np.ndarray, name: str) -> np.ndarray:
    """Each user's value of the segment field ``name`` (float64)."""
    return np.array([getattr(s, name) for s in scenario.segments], dtype=np.float64)[segment]


@dataclass(frozen=True)
class Lifecycles:
    """Each subscriber's generator on (ACTIVE, DORMANT) before the start, with the decision to
    cancel killing and sign-ups thinned at the segment's mean tenure ``m``: ``K' = K - I/m =
    [[a_a, lapse], [back, d_d]]``. ``K`` has the segment's rates with the user's multipliers
    and static traits as the simulator applies them (technical issues and friction on lapsing
    and returning, baseline price pain on cancelling)."""

    a_a: np.ndarray
    d_d: np.ndarray
    lapse: np.ndarray
    back: np.ndarray
    m: np.ndarray

    @classmethod
    def of(
        cls, scenario: Scenario, segment: np.ndarray, latent: dict[str, np.ndarray]
    ) -> Lifecycles:
        seg_param = partial(_per_user, scenario, segment)
        d = scenario.dynamics
        push = np.exp(d.tech_weight * latent["tech"] + d.friction_weight * latent["friction"])
        press = latent["lapse_mult"] * np.exp(d.price_level_weight * latent["price_sens"])
        lapse = seg_param("lapse_rate") * latent["lapse_mult"] * push
        back = seg_param("return_rate") * latent["return_mult"] / push
        m = seg_param("mean_tenure_days")
        a_a = -lapse - seg_param("cancel_rate") * press - 1.0 / m
        d_d = -back - seg_param("dormant_cancel_rate") * press - 1.0 / m
        return cls(a_a=a_a, d_d=d_d, lapse=lapse, back=back, m=m)

    def odds(self) -> np.ndarray:
        """P(ACTIVE), P(DORMANT), P(cancelled) at the start for a customer who signed up at
        a time ~ Exp(m) before it, (n, 3): ``e_A (-K')^-1 / m`` and the rest (a comeback
        before the start is not counted)."""
        det = self.a_a * self.d_d - self.lapse * self.back
        on = np.stack([-self.d_d / det, self.lapse / det], axis=1) / self.m[:, None]
        on = np.clip(on, 0.0, 1.0)
        return np.concatenate([on, np.clip(1.0 - on.sum(axis=1, keepdims=True), 0.0, 1.0)], 1)


SURVIVOR_ROUNDS = 400  # rejection rounds of lived_lifecycles (the rarest state at the
# start is held by about 1 in 20 sign-ups of a segment: 400 rounds leave 1e-9 undecided)
TRAIT_NAMES = ("price_sens", "content_need", "friction", "tech")  # _traits' order


def lived_lifecycles(
    scenario: Scenario,
    segment: np.ndarray,
    state: np.ndarray,
    pain: np.ndarray,
    latent: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> Lifecycles:
    """Each customer's pain point, traits and leave and return multipliers as its state at
    the start selects them (``pain`` and ``latent`` are redrawn in place), and the
    lifecycles they give.

    A segment's mixes and laws (``pain_mix``, ``heterogeneity``, the traits) describe its
    customers at sign-up. A customer found in state s at the start signed up at a time
    ~ Exp(m) before it and is in s then, which one who cancels readily rarely still is:
    given s, a customer's draws have the law ``sign-up law x P_s(draws)``
    (:meth:`Lifecycles.odds`), drawn by rejection (propose from the segment, accept with
    ``P_s``). So the subscribers at the start are the durable ones, as a real company's
    are, and the cancelled the quick to leave; the arrivals behind every tenure have the
    same law, which is what a calibration's left truncation assumes. Without this a
    subscriber at the start was as quick to cancel as a newcomer whatever its tenure, and a
    calibration of the simulated company's log put retention 11-14 points above its
    Kaplan-Meier curve. A customer still undecided after ``SURVIVOR_ROUNDS`` keeps its last
    proposal."""
    leave, come = _multiplier_shapes(scenario, segment)
    mixes = [dict(seg.pain_mix) for seg in scenario.segments]
    todo = np.arange(segment.shape[0])
    for _ in range(SURVIVOR_ROUNDS):
        part = {k: latent[k][todo] for k in (*TRAIT_NAMES, "lapse_mult", "return_mult")}
        odds = Lifecycles.of(scenario, segment[todo], part).odds()
        todo = todo[rng.random(todo.size) >= odds[np.arange(todo.size), state[todo]]]
        if todo.size == 0:
            break
        for k in np.unique(segment[todo]):
            rows = todo[segment[todo] == k]
            pain[rows] = _mix_draw(rng, rows.size, list(PAIN_POINTS), mixes[k])
        for name, trait in zip(TRAIT_NAMES, _traits(rng, pain[todo]), strict=True):
            latent[name][todo] = trait
        latent["lapse_mult"][todo] = _gamma_mult(rng, leave[todo])
        latent["return_mult"][todo] = _gamma_mult(rng, come[todo])
    return Lifecycles.of(scenario, segment, latent)


def lived_tenure(
    scenario: Scenario, state: np.ndarray, latent: dict[str, np.ndarray], life: Lifecycles
) -> np.ndarray:
    """Each subscriber's tenure at the start as a lifecycle leaves it, from the tenure drawn
    at the segment's mean ``m`` (the same draw: no new random numbers).

    Customers sign up with tenure ~ Exp(m), subscribed and ACTIVE; those found in state s
    after tau are thinned by their own chain, so tau given s has the density
    ``e_A exp(K' tau) e_s`` (up to a constant), ``K'`` from :class:`Lifecycles`. A newcomer
    is then rarely DORMANT, and a long-standing subscriber is one unlikely to cancel. The
    draw's quantile is kept: tau solves ``G_s(tau) = exp(-draw / m)`` with
    ``G_s(tau) = [v exp(K' tau)]_s / v_s``, v = e_A (-K')^-1, by safeguarded Newton steps
    (without hazards tau is the draw). Users cancelled at the start keep their draw: the log
    shows them with no history. Without this, a subscriber's tenure would say nothing of
    their state or how likely they are to cancel, and a log of the simulated company would
    contradict the lifecycle before its window."""
    drawn = -scenario.warmup_days - latent["signup_day"].astype(np.float64)
    s = np.minimum(state, 1).astype(np.int64)
    tenure = _solve_tenure(drawn, s, life.a_a, life.d_d, life.lapse, life.back, life.m)
    return np.where(state == CHURNED, drawn, tenure)


@njit(cache=True, parallel=True)
def _solve_tenure(drawn, s, a_a, d_d, lapse, back, m):  # type: ignore[no-untyped-def]
    """Per user, tau with ``G_s(tau) = exp(-drawn / m)`` (:func:`lived_tenure`): Newton's
    steps on G, kept inside a bracket that shrinks (bisection where a step leaves it).
    ``exp(K' t) = f0 I + f1 K'`` from K''s eigenvalues ``half +- mid``."""
    out = np.empty(drawn.shape[0])
    for i in prange(drawn.shape[0]):
        a, d, lp, bk = a_a[i], d_d[i], lapse[i], back[i]
        det = a * d - lp * bk
        v = (-d / det, lp / det)  # e_A (-K')^-1
        target = math.exp(-drawn[i] / m[i])
        if s[i] == 1 and v[1] <= 0.0:  # never lapses: cannot be DORMANT; keep the draw
            out[i] = drawn[i]
            continue
        half, mid = 0.5 * (a + d), math.sqrt(0.25 * (a - d) ** 2 + lp * bk)
        lo, hi, t = 0.0, math.inf, drawn[i]
        for _ in range(100):
            e_hi = math.exp((half + mid) * t)
            f1 = e_hi * -math.expm1(-2.0 * mid * t) / (2.0 * mid) if mid > 1e-12 else t * e_hi
            f0 = math.exp((half - mid) * t) - (half - mid) * f1
            if s[i] == 0:
                g = (v[0] * (f0 + f1 * a) + v[1] * f1 * bk) / v[0]
                dens = (f0 + f1 * a) / v[0]
            else:
                g = (v[0] * f1 * lp + v[1] * (f0 + f1 * d)) / v[1]
                dens = f1 * lp / v[1]
            if g > target:
                lo = t
            else:
                hi = t
            step = t + (g - target) / dens if dens > 0.0 else math.inf
            nxt = step if lo < step < hi else (0.5 * (lo + hi) if hi < math.inf else 2.0 * t + 1.0)
            if abs(nxt - t) <= 1e-9 * (1.0 + t):
                t = nxt
                break
            t = nxt
        out[i] = t
    return out


def _by_segment(
    scenario: Scenario, counts: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per segment in turn: pain point, initial state, plan and reachability per channel
    drawn from the segment's mixes; ``resp_mean``, each user's mean open propensity."""
    n = int(counts.sum())
    out = {
        "pain": np.empty(n, dtype=np.uint8),
        "state": np.empty(n, dtype=np.uint8),
        "plan": np.empty(n, dtype=np.uint8),
        "reachable": np.empty((n, len(CHANNELS)), dtype=bool),
        "resp_mean": np.empty((n, len(CHANNELS)), dtype=np.float64),
    }
    start = 0
    for k, seg in enumerate(scenario.segments):
        m = int(counts[k])
        sl = slice(start, start + m)
        out["pain"][sl] = _mix_draw(rng, m, list(PAIN_POINTS), dict(seg.pain_mix))
        out["state"][sl] = _mix_draw(rng, m, list(STATES), dict(seg.initial_state))
        out["plan"][sl] = _mix_draw(rng, m, scenario.plan_names, dict(seg.plan_mix))
        for c, ch in enumerate(CHANNELS):
            out["reachable"][sl, c] = rng.random(m) < seg.reach.get(ch, 0.0)
            out["resp_mean"][sl, c] = seg.responsiveness.get(ch, 0.0)
        start += m
    return out


def _latent(
    scenario: Scenario,
    segment: np.ndarray,
    pain: np.ndarray,
    resp_mean: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """The hidden traits, heterogeneity multipliers and tenure of every user."""
    n, n_genres = segment.shape[0], len(scenario.genres)

    seg_param = partial(_per_user, scenario, segment)

    price_sens, content_need, friction, tech = _traits(rng, pain)
    affinity = _dirichlet(rng, scenario.dynamics.genre_concentration, n, n_genres)
    genre_counts = 3.0 * _dirichlet(rng, 1.0, n, n_genres)
    responsiveness = _responsiveness(rng, resp_mean)
    leave, come = _multiplier_shapes(scenario, segment)
    lapse_mult = _gamma_mult(rng, leave)
    return_mult = _gamma_mult(rng, come)
    activity_mult = _gamma_mult(rng, seg_param("activity_heterogeneity"))
    basket = (seg_param("basket_value") * rng.gamma(8.0, 1.0 / 8.0, size=n)).astype(F32)
    deal_seeker = rng.random(n) < seg_param("deal_seeker_share")
    tenure = rng.exponential(seg_param("mean_tenure_days"))
    return {
        "price_sens": price_sens,
        "content_need": content_need,
        "friction": friction,
        "tech": tech,
        "affinity": affinity,
        "genre_counts": genre_counts,
        "responsiveness": responsiveness,
        "lapse_mult": lapse_mult,
        "return_mult": return_mult,
        "activity_mult": activity_mult,
        "basket": basket,
        "deal_seeker": deal_seeker,
        "signup_day": (-scenario.warmup_days - tenure).astype(F32),
    }


def _empty_history(n: int) -> dict[str, np.ndarray]:
    """What no user has yet: sessions, offers, effects and accounts, all at their start."""

    def full(value: float, dtype: type = F32) -> np.ndarray:
        return np.full(n, value, dtype=dtype)

    return {
        "last_activity": full(NEVER),
        "sessions_week": np.zeros((SESSION_WEEKS, n), dtype=np.uint8),
        "total_sessions": full(0.0),
        "signals": np.zeros((n, len(SIGNAL_NAMES)), dtype=F32),
        "revenue_to_date": full(0.0),
        "sends_week": np.zeros((len(CHANNELS), SEND_WEEKS, n), dtype=np.uint8),
        "fatigue": full(0.0),
        "fatigue_day": full(NEVER),
        "n_offers": full(0, np.uint16),
        "n_opened": full(0, np.uint16),
        "last_offer": full(NO_OFFER, np.int16),
        "last_offer_day": full(NEVER),
        "last_opened": full(-1, np.int8),
        "offers_sent": full(0, np.uint32),
        "offers_opened": full(0, np.uint32),
        "survey": full(-1, np.int8),
        "cancel_at": full(np.inf, np.float64),
        "disc_until": full(NEVER),
        "disc_depth": full(0.0),
        "trial_until": full(NEVER),
        "trial_window_until": full(NEVER),
        "trial_len": full(0.0),
        "fix_until": full(NEVER),
        "rec_until": full(NEVER),
        "content_until": full(NEVER),
        "boost_until": full(NEVER),
        "boost": full(0.0),
        "next_change": full(np.inf),
        "money": np.zeros((len(MONEY), n), dtype=F32),
        "reactivations": full(0, np.uint16),
        "first_react": full(np.nan),
        "retained30": full(-1, np.int8),
        "retained90": full(-1, np.int8),
        "ever_inactive": np.zeros(n, dtype=bool),
        "messages": full(0, np.uint16),
        "unsubscribed": full(0, np.uint8),
    }


USERS_LAST = frozenset({"affinity", "genre_counts", "sessions_week", "sends_week", "money"})
"""Fields stored with the user axis last (one row per genre, week, channel or money item)."""

FIELDS = tuple(f.name for f in fields(Population))

ACCOUNTS = {
    "money": 0.0,
    "reactivations": 0,
    "first_react": np.nan,
    "retained30": -1,
    "retained90": -1,
    "ever_inactive": False,
    "messages": 0,
    "unsubscribed": 0,
}
"""Per-user accounting over a horizon, and the value each starts from."""


def take(pop: Population, idx: np.ndarray) -> Population:
    """A new population of users ``idx`` (copies), with their accounts reset to zero.

    History (state, sessions, offers, reachability, fatigue, effects) is kept: the users
    carry on from where the dynamics left them. ``idx`` is sorted so segments stay sorted.
    """
    idx = np.sort(np.asarray(idx, dtype=np.int64))
    arrays = {}
    for name in FIELDS:  # fancy indexing copies
        arr = getattr(pop, name)
        if name in ACCOUNTS:
            shape = (*arr.shape[:-1], idx.size)
            arrays[name] = np.full(shape, ACCOUNTS[name], dtype=arr.dtype)
        else:
            arrays[name] = arr[..., idx] if name in USERS_LAST else arr[idx]
    return Population(**arrays)


def copy_of(pop: Population) -> Population:
    """Every user copied, accounts reset (see :func:`take`)."""
    return take(pop, np.arange(pop.n))
