"""The one-page realism figure (matplotlib, imported when a figure is drawn)."""

from __future__ import annotations

import numpy as np

from sessionsim.extras import need
from sessionsim.realism.metrics import PUBLISHED_RANK_CURVE, Realism

__all__ = ["plot_realism"]


def plot_realism(r: Realism, title: str, fmt: str = "png") -> bytes:
    """Return the one-page realism figure in ``fmt`` (png, svg or pdf)."""
    import io

    matplotlib = need("matplotlib", "plot", "the realism figure (--out)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 3, figsize=(15, 8.5))
    ranks = np.arange(1, len(r.ctr_by_rank) + 1)
    a = ax[0, 0]
    a.plot(ranks, r.ctr_by_rank, "o-", label="this run")
    pub = PUBLISHED_RANK_CURVE[: len(ranks)]
    a.plot(np.arange(1, len(pub) + 1), pub, "s--", label="Sistrix 2020")
    a.set(xlabel="rank", ylabel="CTR at rank", title="rank curve", yscale="log")
    a.legend()
    a = ax[0, 1]
    if len(r.visit_lengths_s):
        x = np.sort(np.maximum(r.visit_lengths_s, 0.1))
        a.plot(x, np.arange(1, len(x) + 1) / len(x))
    a.axvline(300, color="grey", ls=":", label="5 min")
    a.set(
        xscale="log",
        xlabel="visit length (s)",
        ylabel="share of visits ≤ x",
        title="visit length CDF",
    )
    a.legend()
    a = ax[0, 2]
    gaps = r.return_gaps_s[r.return_gaps_s > 0]
    if len(gaps):
        a.hist(gaps, bins=np.geomspace(max(gaps.min(), 1.0), gaps.max() * 1.01, 50))
    a.axvline(1800, color="grey", ls=":", label="30 min gap")
    a.set(xscale="log", xlabel="time to next visit (s)", ylabel="returns", title="return time")
    a.legend()
    a = ax[1, 0]
    if len(r.queries_per_visit):
        q = np.bincount(np.minimum(r.queries_per_visit, 10))[1:]
        a.bar(np.arange(1, len(q) + 1), q / q.sum())
    a.set(
        xlabel="queries in a visit with a search (10: 10+)",
        ylabel="share",
        title="queries per visit",
    )
    a = ax[1, 1]
    a.plot(r.events_by_hour, label="events (by ts)")
    if len(r.expected_by_hour) and r.expected_by_hour.sum() > 0:
        hours = min(len(r.expected_by_hour), len(r.events_by_hour))
        scale = r.events_by_hour[:hours].sum() / max(r.expected_by_hour[:hours].sum(), 1e-9)
        a.plot(r.expected_by_hour * scale, "--", label="arrival intensity (scaled)")
    a.set(xlabel="hour from start (UTC)", ylabel="events", title="events per hour")
    a.legend()
    a = ax[1, 2]
    if len(r.query_counts):
        a.loglog(np.arange(1, len(r.query_counts) + 1), r.query_counts, ".", ms=2)
    a.set(xlabel="query rank", ylabel="count", title="query frequency (Zipf head, open tail)")
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=90)
    plt.close(fig)
    return buf.getvalue()
