"""Independent seeded random streams, one per (purpose, cohort, chunk), and replica groups.

Users are grouped in fixed cohorts of ``COHORT`` users. Every draw for a cohort comes from a
generator derived from the scenario seed and the cohort's index, so a shard that simulates
some of a cohort's users draws exactly what the whole run would have drawn for them.

The backend's sticky load balancer sends each group of ``GROUP`` users to one replica
(group modulo replicas): a small population (2,000 users are 8 groups) spreads over 8
replicas, so it shards over 8 processes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "COHORT",
    "GROUP",
    "RELEASES",
    "TRAITS",
    "VOCABULARY",
    "VISITS",
    "cohorts",
    "replica_of",
    "stream",
]

COHORT = 4096
GROUP = 256  # users behind one backend replica together (a divisor of COHORT)

# Purposes, the first word of every stream's key after the seed.
TRAITS = 1
VOCABULARY = 2
VISITS = 3
RELEASES = 4  # the app's release schedule


def stream(seed: int, purpose: int, *key: int) -> np.random.Generator:
    """Return the generator for ``purpose`` and ``key`` under ``seed``."""
    return np.random.default_rng([seed, purpose, *key])


def cohorts(users: int) -> list[range]:
    """Split user indices ``0..users-1`` into cohorts."""
    return [range(lo, min(lo + COHORT, users)) for lo in range(0, users, COHORT)]


def replica_of(users: np.ndarray, replicas: int) -> np.ndarray:
    """The backend replica of each user (its group of ``GROUP`` users, modulo replicas)."""
    return np.asarray(users) // GROUP % replicas
