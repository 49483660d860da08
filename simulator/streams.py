"""Independent seeded random streams, one per (purpose, cohort, chunk).

Users are grouped in fixed cohorts of ``COHORT`` users. Every draw for a cohort comes from a
generator derived from the scenario seed and the cohort's index, so a shard that simulates
some cohorts draws exactly what the whole run would have drawn for them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COHORT", "TRAITS", "VOCABULARY", "VISITS", "cohorts", "stream"]

COHORT = 4096

# Purposes, the first word of every stream's key after the seed.
TRAITS = 1
VOCABULARY = 2
VISITS = 3


def stream(seed: int, purpose: int, *key: int) -> np.random.Generator:
    """Return the generator for ``purpose`` and ``key`` under ``seed``."""
    return np.random.default_rng([seed, purpose, *key])


def cohorts(users: int) -> list[range]:
    """Split user indices ``0..users-1`` into cohorts."""
    return [range(lo, min(lo + COHORT, users)) for lo in range(0, users, COHORT)]
