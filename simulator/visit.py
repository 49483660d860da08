"""What a played visit hands to delivery and to the ledger: the named shapes and ``Visit``.

The shapes are plain tuples (they are built once per event, so they stay cheap); their
names say what each position holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["Fate", "Happening", "PlayedSearch", "Visit"]

# One event as it happened: (true time s, type, n in the visit, payload, search n, rank).
# The payload is the query (search), the items shown (results) or the item (click).
Happening = tuple[float, str, int, Any, int, int]

# One search as played: (n of its search event, true time s, query, items shown (None: the
# user gave up waiting), clicks, the click model's P(any click) (None: gave up), page row).
PlayedSearch = tuple[int, float, int, int | None, int, float | None, int]

# What delivery did to one event: (stamped device time s, first arrival s (None: never
# sent), deliveries, waited offline, device batch number, request number).
Fate = tuple[float, float | None, int, bool, int | None, int | None]


class Route(Protocol):
    """Delivery's record of one visit (``delivery.VisitDelivery``)."""

    faultless: bool
    fates: list[Fate]

    def fate(self, n: int) -> Fate: ...


class Pages(Protocol):
    """The latent values of the pages a plan showed, by page row (``plan.VisitBatch``)."""

    pages: list[tuple]
    alpha: np.ndarray
    sat: np.ndarray | None
    exam: np.ndarray
    propensity: np.ndarray


@dataclass(slots=True)
class Visit:
    """One finished true visit, as the user actor hands it over.

    ``events`` are in true time order; ``route`` tells what delivery did to each
    (``route.fate(n)``); ``plan`` holds the latent values of each search's page (its row is
    the search's last field).
    """

    user: int
    visit: int
    events: list[Happening]
    route: Route
    start_s: float
    end_s: float
    searches: list[PlayedSearch]
    plan: Pages
