"""The one-page realism figure (matplotlib, imported when a figure is drawn)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sessionsim.extras import need
from sessionsim.realism.metrics import PUBLISHED_RANK_CURVE, Realism, RealismRow

COLOURS = {"ok": "tab:green", "OUT": "tab:red", "fault": "tab:orange"}

__all__ = ["plot_realism"]


def plot_realism(
    r: Realism, title: str, fmt: str = "png", rows: list[RealismRow] | None = None
) -> bytes:
    """Return the one-page realism figure in ``fmt`` (png, svg or pdf): six panels of the
    run's shapes, and (with ``rows``) every band with this run's value in it, OUT in red.
    Text stays text in an SVG (searchable, selectable)."""
    import io

    matplotlib = need("matplotlib", "plot", "the realism figure (--out)")
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(22, 9))
    grid = fig.add_gridspec(2, 4, width_ratios=[1, 1, 1, 1.25])
    ax = np.array([[fig.add_subplot(grid[i, j]) for j in range(3)] for i in range(2)])
    if rows:
        _bands(fig.add_subplot(grid[:, 3]), rows)
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
    fig.suptitle(f"{title}: {r.about}" if r.about else title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _bands(a: Any, rows: list[RealismRow]) -> None:
    """Each judged row on one scale: its band from 0 to 1, this run's value placed in it
    (clipped to -0.5 .. 1.5), coloured by verdict; an open band is drawn to the edge."""
    judged = [(row, row.value) for row in rows if row.value is not None]
    for y, (row, value) in enumerate(judged):
        low, high = row.band
        lo = low if low is not None else (value if high is None else min(value, high))
        hi = high if high is not None else max(value, lo) + 1.0
        width = (hi - lo) or 1.0
        x = float(np.clip((value - lo) / width, -0.5, 1.5))
        colour = COLOURS.get(row.verdict, "grey")
        a.plot([0, 1], [y, y], color="lightgrey", lw=6, solid_capstyle="butt")
        a.plot([x], [y], "o", color=colour, ms=7)
        if row.verdict != "ok":
            a.annotate(row.verdict, (x, y), xytext=(6, -3), textcoords="offset points",
                       color=colour, fontsize=8, fontweight="bold")  # fmt: skip
    a.set_yticks(range(len(judged)), [row.key for row, _ in judged], fontsize=7)
    a.set_ylim(len(judged) - 0.5, -0.5)
    a.set_xlim(-0.55, 1.55)
    a.set_xticks([0, 1], ["band low", "band high"])
    out = sum(row.verdict == "OUT" for row, _ in judged)
    a.set_title(f"bands: {len(judged) - out} of {len(judged)} inside, {out} OUT")
