"""How realistic a run's stream is: metrics read from a run directory, against published bands.

Every metric is computed from the files a run writes (events and ``truth/``, JSON lines or
Parquet), in one streaming pass per file, so any run directory can be judged, whoever made it. The
bands and their sources live in ``realism_bands.yaml`` beside this module.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import orjson
import yaml
from scipy import stats

from sessionizer import SessionizerError, parse_ts
from sessionsim.files import read_rows, run_file
from sessionsim.scenario import RunScenario
from simulator import Scenario, SimulatorError, load_scenario

__all__ = [
    "Band",
    "Realism",
    "load_bands",
    "measure_realism",
    "plot_realism",
    "realism_block",
]

# Sistrix 2020, organic CTR by rank on desktop and mobile (80M keywords), for the figure.
PUBLISHED_RANK_CURVE = (0.285, 0.157, 0.110, 0.080, 0.072, 0.051, 0.040, 0.032, 0.028, 0.025)
VARIETY_SEARCHES = 20_000  # searches read for the rank-variety metric (memory bound)
HEAD_MIN_COUNT = 5  # a query's rank is fitted only if it occurs this often
HEAD_MAX_RANK = 1000
QUICK_RETURN_S = 600.0


@dataclass(frozen=True, slots=True)
class Band:
    """A metric's published band and where it comes from."""

    key: str
    label: str
    section: str
    low: float | None
    high: float | None
    source: str

    def verdict(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        inside = (self.low is None or value >= self.low - 1e-12) and (
            self.high is None or value <= self.high + 1e-12
        )
        return "ok" if inside else "OUT"


def load_bands(path: Path | None = None) -> list[Band]:
    """Read the bands file (the packaged one by default)."""
    where = str(path) if path else "realism_bands.yaml"
    try:
        text = (
            path.read_text() if path else (files("sessionsim") / "realism_bands.yaml").read_text()
        )
        raw = yaml.safe_load(text)
        return [
            Band(
                e["key"],
                e["label"],
                e.get("section", ""),
                None if e["band"][0] is None else float(e["band"][0]),
                None if e["band"][1] is None else float(e["band"][1]),
                e["source"],
            )
            for e in raw
        ]
    except OSError as e:
        raise SessionizerError(f"{where}: cannot read: {e.strerror}") from None
    except (yaml.YAMLError, TypeError, KeyError, IndexError, ValueError) as e:
        raise SessionizerError(
            f"{where}: expected a list of {{key, label, band: [low, high], source}} ({e!r})"
        ) from None


@dataclass(slots=True)
class Realism:
    """A run's realism metrics (``values``) and the curves its figure draws."""

    values: dict[str, float | None]
    faultless: bool
    ctr_by_rank: list[float]
    visit_lengths_s: np.ndarray
    return_gaps_s: np.ndarray
    queries_per_visit: np.ndarray
    events_by_hour: np.ndarray
    expected_by_hour: np.ndarray
    query_counts: np.ndarray

    def rows(self, bands: list[Band]) -> list[dict]:
        """Return one row per band: metric, value, band, source, verdict."""
        out = []
        for b in bands:
            value = self.values.get(b.key)
            verdict = b.verdict(value)
            if b.key == "device_order_share" and verdict == "OUT" and not self.faultless:
                verdict = "fault"  # the scenario reorders on purpose
            out.append(
                {
                    "key": b.key,
                    "metric": b.label,
                    "value": value,
                    "band": [b.low, b.high],
                    "source": b.source,
                    "verdict": verdict,
                }
            )
        return out


def _rows(path: Path):
    """Yield the rows of a run's JSON lines or Parquet file."""
    for _, row in read_rows(path):
        yield row


def _searches(path: Path) -> tuple[dict, list[float], np.ndarray]:
    shown = np.zeros(100, dtype=np.int64)
    clicked = np.zeros(100, dtype=np.int64)
    queries: dict[str, int] = defaultdict(int)
    ranks_of: dict[tuple[str, str], set[int]] = {}
    shows: dict[tuple[str, str], int] = defaultdict(int)
    for k, s in enumerate(_rows(path)):
        queries[s["query"]] += 1
        n = s.get("results") or 0
        shown[: min(n, 100)] += 1
        for p in s.get("clicked_positions") or ():
            if p <= 100:
                clicked[p - 1] += 1
        if k < VARIETY_SEARCHES:
            for r, item in enumerate(s.get("items") or ()):
                key = (s["query"], item)
                shows[key] += 1
                ranks_of.setdefault(key, set()).add(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.where(shown > 0, clicked / np.maximum(shown, 1), np.nan)
    ranks = int((shown > 0).sum())
    repeated = [key for key, n in shows.items() if n >= 2]
    counts = np.sort(np.fromiter(queries.values(), dtype=np.int64))[::-1]
    total = int(counts.sum())
    values = {
        "ctr_at_1": float(curve[0]) if ranks else None,
        "ctr_10_over_1": float(curve[9] / curve[0]) if ranks >= 10 and curve[0] > 0 else None,
        "rank_variety": (
            sum(len(ranks_of[key]) >= 2 for key in repeated) / len(repeated) if repeated else None
        ),
        "zipf_head_exponent": _zipf_head(counts),
        "distinct_query_ratio": len(counts) / total if total else None,
    }
    return values, [float(c) for c in curve[:ranks]], counts


def _zipf_head(counts: np.ndarray) -> float | None:
    """Fit log(count) = c - s log(rank) over the head: ranks seen often enough to count."""
    head = counts[:HEAD_MAX_RANK][counts[:HEAD_MAX_RANK] >= HEAD_MIN_COUNT]
    if len(head) < 10:
        return None
    slope = np.polyfit(np.log(np.arange(1, len(head) + 1)), np.log(head), 1)[0]
    return float(-slope)


def _visits(path: Path) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    users, starts, ends, searches = [], [], [], []
    for v in _rows(path):
        users.append(v["user_id"])
        starts.append(parse_ts(v["start"]) / 1000.0)
        ends.append(parse_ts(v["end"]) / 1000.0)
        searches.append(v["searches"])
    start, end = np.array(starts), np.array(ends)
    n_search = np.array(searches, dtype=np.int64)
    length = end - start
    order = np.lexsort((start, np.array(users)))
    same_user = np.array(users, dtype=object)[order]
    follows = same_user[1:] == same_user[:-1]
    gaps = (start[order][1:] - end[order][:-1])[follows]
    searching = n_search[n_search > 0]
    values = {
        "queries_per_visit": float(searching.mean()) if len(searching) else None,
        "single_query_share": float((searching == 1).mean()) if len(searching) else None,
        "no_search_share": float((n_search == 0).mean()) if len(n_search) else None,
        "short_visit_share": float((length <= 300.0).mean()) if len(length) else None,
        "quick_return_share": float((gaps <= QUICK_RETURN_S).mean()) if len(gaps) else None,
    }
    return values, length, gaps, searching, start


def _dwell_shape(path: Path) -> float | None:
    """Fit a Weibull to post-click dwell: a click to the next click or search of its visit."""
    dwell = []
    prev_session, prev_type, prev_ts = None, None, 0.0
    for e in _rows(path):
        ts = parse_ts(e["true_ts"]) / 1000.0
        if (
            e["session_id"] == prev_session
            and prev_type == "click"
            and e["type"] in ("click", "search")
        ):
            dwell.append(ts - prev_ts)
        prev_session, prev_type, prev_ts = e["session_id"], e["type"], ts
    x = np.array(dwell)
    x = x[x > 0]
    if len(x) < 50:
        return None
    shape, _, _ = stats.weibull_min.fit(x[:200_000], floc=0.0)
    return float(shape)


def _device_order(path: Path, t0_ms: int) -> tuple[float | None, np.ndarray]:
    """Return the share of users whose events arrived in non-decreasing ``ts`` order, and
    the events per hour of ``ts`` from the start."""
    last: dict[str, int] = {}
    disordered: set[str] = set()
    per_hour: dict[int, int] = defaultdict(int)
    for e in _rows(path):
        user, ts = e["user_id"], parse_ts(e["ts"])
        per_hour[(ts - t0_ms) // 3_600_000] += 1
        if ts < last.get(user, ts):
            disordered.add(user)
        else:
            last[user] = ts
    hours = np.zeros(max((h for h in per_hour if h >= 0), default=-1) + 1, dtype=np.int64)
    for h, n in per_hour.items():
        if h >= 0:
            hours[h] = n
    return (1.0 - len(disordered) / len(last) if last else None), hours


def measure_realism(run_dir: Path) -> Realism:
    """Read a run directory and compute every realism metric."""
    truth = run_dir / "truth"
    try:
        summary = orjson.loads((truth / "summary.json").read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise SessionizerError(
            f"{truth / 'summary.json'}: cannot read the run summary: {e}"
        ) from None
    try:
        scenario: Scenario = load_scenario(run_dir / "scenario.yaml", model=RunScenario)
    except SimulatorError as e:
        raise SessionizerError(str(e)) from None
    d = scenario.delivery
    faultless = d.perfect and d.parallel_requests == 1
    values: dict[str, float | None] = {}
    searches = summary["searches"]
    values["clicks_per_search"] = summary["clicks_per_search"]
    values["abandonment"] = summary["abandoned_searches"] / searches if searches else None
    search_values, curve, counts = _searches(run_file(truth, "searches"))
    values.update(search_values)
    visit_values, lengths, gaps, per_visit, starts = _visits(run_file(truth, "sessions"))
    values.update(visit_values)
    values["dwell_weibull_shape"] = _dwell_shape(run_file(truth, "events"))
    expected = np.asarray(summary.get("expected_arrivals_by_hour") or [], dtype=float)
    t0 = scenario.start.timestamp()
    hours = np.floor((starts - t0) / 3600.0).astype(np.int64)
    by_hour = np.bincount(hours[(hours >= 0) & (hours < len(expected))], minlength=len(expected))
    values["diurnal_correlation"] = (
        float(np.corrcoef(by_hour, expected)[0, 1])
        if len(expected) >= 3 and by_hour.std() > 0 and expected.std() > 0
        else None
    )
    values["device_order_share"], events_by_hour = _device_order(
        run_file(run_dir, "events"), round(t0 * 1000)
    )
    return Realism(
        values, faultless, curve, lengths, gaps, per_visit, events_by_hour, expected, counts
    )


def realism_block(run_dir: Path) -> dict:
    """Return the ``realism`` block of a report: per metric, its value, band and verdict."""
    rows = measure_realism(run_dir).rows(load_bands())
    return {
        r["key"]: {"value": r["value"], "band": r["band"], "verdict": r["verdict"]} for r in rows
    }


def plot_realism(r: Realism, title: str) -> bytes:
    """Return the one-page realism figure as a PNG."""
    import io

    import matplotlib

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
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
