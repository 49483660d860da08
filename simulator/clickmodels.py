"""Click models: which results of a page get clicked, and the closed-form expectation.

Both models work on a batch of result pages at once: ``alpha`` is an (pages, ranks) matrix of
attractiveness and ``u`` a matrix of uniform draws of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from simulator.scenario import Clicks

__all__ = ["Cascade", "ClickModel", "PositionBased", "click_model"]


class ClickModel(Protocol):
    def clicks(self, alpha: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Return a boolean matrix: which ranks of each page are clicked."""
        ...

    def p_any(self, alpha: np.ndarray) -> np.ndarray:
        """Return, per page, the probability of at least one click."""
        ...


@dataclass(frozen=True, slots=True)
class Cascade:
    """The cascade model: scan from the top, click the first attractive result, stop.

    P(click at rank r) = alpha_r * prod_{i<r} (1 - alpha_i); P(any) = 1 - prod (1 - alpha_i).
    """

    def clicks(self, alpha: np.ndarray, u: np.ndarray) -> np.ndarray:
        attractive = u < alpha
        first = attractive.argmax(axis=1)
        out = np.zeros_like(attractive)
        rows = np.flatnonzero(attractive.any(axis=1))
        out[rows, first[rows]] = True
        return out

    def p_any(self, alpha: np.ndarray) -> np.ndarray:
        return 1.0 - np.prod(1.0 - alpha, axis=1)


@dataclass(frozen=True, slots=True)
class PositionBased:
    """The position-based model: rank r is examined with probability gamma_r, independently.

    P(click at rank r) = alpha_r * gamma_r; P(any) = 1 - prod (1 - alpha_r * gamma_r).
    """

    gamma: np.ndarray

    def clicks(self, alpha: np.ndarray, u: np.ndarray) -> np.ndarray:
        return u < alpha * self.gamma[: alpha.shape[1]]

    def p_any(self, alpha: np.ndarray) -> np.ndarray:
        return 1.0 - np.prod(1.0 - alpha * self.gamma[: alpha.shape[1]], axis=1)


def click_model(config: Clicks, ranks: int) -> ClickModel:
    """Build the click model a scenario names."""
    if config.model == "cascade":
        return Cascade()
    return PositionBased(1.0 / np.arange(1, ranks + 1) ** config.examination_decay)
