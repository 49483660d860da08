"""Click models: which results of a page get clicked, and their closed-form expectations.

Every model works on a batch of result pages at once: ``alpha`` is a (pages, ranks) matrix of
attractiveness and ``sat`` one of satisfaction (used by DBN only). Each model gives, per
page, which ranks are clicked, the marginal probability that each rank is examined,
P(at least one click) and E[clicks], the last three in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from simulator.scenario import Clicks

__all__ = [
    "Cascade",
    "ClickModel",
    "DependentClick",
    "DynamicBayesian",
    "PositionBased",
    "click_model",
]


class ClickModel(Protocol):
    """A click model: which results of a page are clicked, and the closed forms."""

    @property
    def name(self) -> str: ...

    def clicks(self, alpha: np.ndarray, sat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return a boolean matrix: which ranks of each page are clicked."""
        ...

    def examination(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        """Return, per page and rank, the marginal probability that the rank is examined."""
        ...

    def p_any(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        """Return, per page, the probability of at least one click."""
        ...


def expected_clicks(model: ClickModel, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
    """Return, per page, E[clicks]: every model here clicks an examined rank with alpha."""
    return (model.examination(alpha, sat) * alpha).sum(axis=1)


def _sequential_examination(alpha: np.ndarray, stay: np.ndarray) -> np.ndarray:
    """P(E_1) = 1, P(E_{r+1}) = P(E_r) * stay_r, where ``stay`` is per page and rank."""
    exam = np.ones_like(alpha)
    if alpha.shape[1] > 1:
        exam[:, 1:] = np.cumprod(stay[:, :-1], axis=1)
    return exam


def _no_click_chain(alpha: np.ndarray, gamma: float) -> np.ndarray:
    """P(no click) when examination goes on after a skip with probability ``gamma``."""
    none = 1.0 - alpha[:, -1]
    for r in range(alpha.shape[1] - 2, -1, -1):
        none = (1.0 - alpha[:, r]) * ((1.0 - gamma) + gamma * none)
    return none


@dataclass(frozen=True, slots=True)
class DynamicBayesian:
    """DBN: examine from the top; click an examined rank with alpha_r; after a click stop if
    satisfied (sat_r); otherwise go on to the next rank with probability ``gamma``.

    P(E_{r+1}) = P(E_r) * gamma * (1 - alpha_r * sat_r).
    """

    gamma: float
    name: str = "dbn"

    def clicks(self, alpha: np.ndarray, sat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pages, ranks = alpha.shape
        u_click, u_sat, u_go = (rng.random(alpha.shape) for _ in range(3))
        out = np.zeros(alpha.shape, dtype=bool)
        examined = np.ones(pages, dtype=bool)
        for r in range(ranks):
            c = examined & (u_click[:, r] < alpha[:, r])
            out[:, r] = c
            examined &= ~(c & (u_sat[:, r] < sat[:, r])) & (u_go[:, r] < self.gamma)
        return out

    def examination(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        return _sequential_examination(alpha, self.gamma * (1.0 - alpha * sat))

    def p_any(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        return 1.0 - _no_click_chain(alpha, self.gamma)


@dataclass(frozen=True, slots=True)
class DependentClick:
    """DCM: examine from the top; skip an unclicked rank and go on; after a click at rank r
    go on with probability lambda_r (else stop).

    P(E_{r+1}) = P(E_r) * (1 - alpha_r + alpha_r * lambda_r); P(no click) = prod(1 - alpha).
    """

    lam: np.ndarray
    name: str = "dcm"

    def clicks(self, alpha: np.ndarray, sat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pages, ranks = alpha.shape
        u_click, u_go = rng.random(alpha.shape), rng.random(alpha.shape)
        lam = self.lam[:ranks]
        out = np.zeros(alpha.shape, dtype=bool)
        examined = np.ones(pages, dtype=bool)
        for r in range(ranks):
            c = examined & (u_click[:, r] < alpha[:, r])
            out[:, r] = c
            examined &= ~c | (u_go[:, r] < lam[r])
        return out

    def examination(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        lam = self.lam[: alpha.shape[1]]
        return _sequential_examination(alpha, 1.0 - alpha + alpha * lam)

    def p_any(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        return 1.0 - np.prod(1.0 - alpha, axis=1)


@dataclass(frozen=True, slots=True)
class Cascade:
    """The cascade model: scan from the top, click the first attractive result, stop.

    P(click at rank r) = alpha_r * prod_{i<r} (1 - alpha_i); P(any) = 1 - prod (1 - alpha_i).
    """

    name: str = "cascade"

    def clicks(self, alpha: np.ndarray, sat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        attractive = rng.random(alpha.shape) < alpha
        first = attractive.argmax(axis=1)
        out = np.zeros_like(attractive)
        rows = np.flatnonzero(attractive.any(axis=1))
        out[rows, first[rows]] = True
        return out

    def examination(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        return _sequential_examination(alpha, 1.0 - alpha)

    def p_any(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        return 1.0 - np.prod(1.0 - alpha, axis=1)


@dataclass(frozen=True, slots=True)
class PositionBased:
    """The position-based model: rank r is examined with probability gamma_r, independently.

    P(click at rank r) = alpha_r * gamma_r; P(any) = 1 - prod (1 - alpha_r * gamma_r).
    """

    gamma: np.ndarray
    name: str = "pbm"

    def clicks(self, alpha: np.ndarray, sat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.random(alpha.shape) < alpha * self.gamma[: alpha.shape[1]]

    def examination(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.gamma[: alpha.shape[1]], alpha.shape).copy()

    def p_any(self, alpha: np.ndarray, sat: np.ndarray) -> np.ndarray:
        return 1.0 - np.prod(1.0 - alpha * self.gamma[: alpha.shape[1]], axis=1)


def _per_rank(values: list[float], ranks: int) -> np.ndarray:
    """Extend a per-rank list to ``ranks`` entries by repeating its last value."""
    v = np.asarray(values, dtype=float)
    return np.concatenate((v, np.full(max(0, ranks - len(v)), v[-1])))[:ranks]


def click_model(config: Clicks, ranks: int) -> ClickModel:
    """Build the click model a scenario names."""
    if config.model == "cascade":
        return Cascade()
    if config.model == "dbn":
        return DynamicBayesian(config.continuation)
    if config.model == "dcm":
        return DependentClick(_per_rank(config.dcm_continuation, ranks))
    return PositionBased(1.0 / np.arange(1, ranks + 1) ** config.examination_decay)
