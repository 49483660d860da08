"""Queries, their ranked results and the items' attractiveness, rendered up front."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

from simulator.scenario import Scenario
from simulator.streams import VOCABULARY, stream

__all__ = ["Vocabulary", "build_vocabulary"]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Query strings by popularity rank, their result pages and attractiveness."""

    queries: tuple[str, ...]
    results: tuple[tuple[str, ...], ...]  # ranked item ids shown for each query
    attractiveness: np.ndarray  # (queries, results_per_page), by rank
    cdf: np.ndarray  # Zipf popularity, cumulative

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` query indices by popularity."""
        return np.searchsorted(self.cdf, rng.random(n), side="right")


def _render_queries(faker: Faker, n: int) -> list[str]:
    makers = (
        lambda: faker.word(),
        lambda: f"{faker.word()} {faker.word()}",
        lambda: f"{faker.color_name().lower()} {faker.word()}",
        lambda: f"{faker.word()} {faker.city().lower()}",
        lambda: f"{faker.word()} {faker.word()} {faker.word()}",
    )
    seen: dict[str, None] = {}
    i = 0
    while len(seen) < n:
        seen.setdefault(makers[i % len(makers)](), None)
        i += 1
    return list(seen)


def build_vocabulary(scenario: Scenario) -> Vocabulary:
    """Render the vocabulary and draw each query's results and attractiveness."""
    q = scenario.queries
    faker = Faker("en_US")
    faker.seed_instance(scenario.seed)
    rng = stream(scenario.seed, VOCABULARY)
    queries = _render_queries(faker, q.vocabulary)
    k = min(q.results_per_page, q.catalog)
    results = tuple(
        tuple(f"it{i:06d}" for i in rng.choice(q.catalog, size=k, replace=False))
        for _ in range(q.vocabulary)
    )
    # A competent ranker puts the more attractive items first.
    alpha = -np.sort(-scenario.clicks.attractiveness.sample(rng, (q.vocabulary, k)), axis=1)
    weights = 1.0 / np.arange(1, q.vocabulary + 1) ** q.zipf_exponent
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return Vocabulary(tuple(queries), results, alpha, cdf)
