"""How realistic a run's stream is: metrics read from a run directory, against published bands.

Every metric is computed from the files a run writes (events and ``truth/``, JSON lines or
Parquet), one pass per file on Arrow columns, so any run directory can be judged, whoever made
it. The bands and their sources live in ``bands.yaml`` beside this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from sessionsim.batches import epoch_ms, table_batches
from sessionsim.errors import SessionsimError
from sessionsim.rundir import run_file
from sessionsim.scenario import RunScenario
from simulator import Scenario, SimulatorError, load_scenario

__all__ = [
    "Band",
    "Realism",
    "RealismRow",
    "load_bands",
    "measure_realism",
    "realism_block",
]

# Sistrix 2020, organic CTR by rank on desktop and mobile (80M keywords), for the figure.
PUBLISHED_RANK_CURVE = (0.285, 0.157, 0.110, 0.080, 0.072, 0.051, 0.040, 0.032, 0.028, 0.025)
HEAD_MIN_COUNT = 5  # a query's rank is fitted only if it occurs this often
HEAD_MAX_RANK = 1000
QUICK_RETURN_S = 600.0
PAGE_SAMPLE = 20_000  # results pages read for the id-step check
MIN_STEP_VISITS = 2000  # visits needed to judge steps at the hour
MIN_GAPS = 50  # post-click dwells needed to judge them
MIN_SPIKE_GAPS = 5000  # search-to-results gaps needed to judge a spike (1% is 50 of them)
MIN_COPIED = 20  # events delivered 3+ times needed to judge their spacing
MIN_LOCAL_OPENS = 500  # app opens in one-zone countries needed to judge local hours
# Countries with one time zone, by their IANA zone: local hours read with the tz database.
ONE_ZONE = {
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "IN": "Asia/Kolkata",
    "JP": "Asia/Tokyo",
}
NIGHT_HOURS = range(1, 6)  # 01:00-05:59 local


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
        packaged = files("sessionsim.realism") / "bands.yaml"
        text = path.read_text() if path else packaged.read_text()
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
        raise SessionsimError(f"{where}: cannot read: {e.strerror}") from None
    except (yaml.YAMLError, TypeError, KeyError, IndexError, ValueError) as e:
        raise SessionsimError(
            f"{where}: expected a list of {{key, label, band: [low, high], source}} ({e!r})"
        ) from None


class RealismRow(msgspec.Struct, frozen=True, kw_only=True):
    """One metric of a run against its band: what ``realism`` prints and ``--json`` writes."""

    key: str
    metric: str  # the band's label
    value: float | None  # None: too little data of that kind to judge
    band: tuple[float | None, float | None]  # [low, high]; None: open
    source: str
    verdict: str  # "ok", "OUT", "n/a", or "fault" (outside because the scenario's faults say so)


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
    about: str = ""  # the run in a few words: users, span, seed (for a figure's title)

    def rows(self, bands: list[Band]) -> list[RealismRow]:
        """Return one row per band: metric, value, band, source, verdict."""
        out = []
        for b in bands:
            value = self.values.get(b.key)
            verdict = b.verdict(value)
            if b.key == "device_order_share" and verdict == "OUT" and not self.faultless:
                verdict = "fault"  # the scenario reorders on purpose
            row = RealismRow(
                key=b.key,
                metric=b.label,
                value=value,
                band=(b.low, b.high),
                source=b.source,
                verdict=verdict,
            )
            out.append(row)
        return out


_SEARCHES = pa.schema(
    [
        ("query", pa.string()),
        ("results", pa.int64()),
        ("items", pa.list_(pa.string())),
        ("clicked_positions", pa.list_(pa.int64())),
    ]
)
_VISITS = pa.schema(
    [
        ("user_id", pa.string()),
        ("start", pa.timestamp("ms", tz="UTC")),
        ("end", pa.timestamp("ms", tz="UTC")),
        ("searches", pa.int64()),
    ]
)
_TRUE_EVENTS = pa.schema(
    [
        ("session_id", pa.string()),
        ("type", pa.string()),
        ("true_ts", pa.timestamp("ms", tz="UTC")),
        ("ts", pa.timestamp("ms", tz="UTC")),
    ]
)
_EVENTS = pa.schema([("user_id", pa.string()), ("ts", pa.timestamp("ms", tz="UTC"))])


def _columns(path: Path, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Yield batches of ``schema``'s columns of a run's JSON lines or Parquet file."""
    return table_batches(path, schema, lambda *_: None)


def _ms(column: pa.Array) -> np.ndarray:
    """A timestamp column as epoch milliseconds (int64)."""
    return epoch_ms(column).to_numpy(zero_copy_only=False)


class _Codes:
    """Strings -> dense integer codes, the same across batches."""

    def __init__(self) -> None:
        self._code: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._code)

    def names(self) -> list[str]:
        """The strings seen, in code order."""
        return list(self._code)

    def of(self, values: pa.Array) -> np.ndarray:
        encoded = pc.dictionary_encode(values)
        code = self._code
        local = np.fromiter(
            (code.setdefault(v, len(code)) for v in encoded.dictionary.to_pylist()),
            dtype=np.int64,
            count=len(encoded.dictionary),
        )
        return local[pc.fill_null(encoded.indices, 0).to_numpy()]


def _rank_variety(pairs: list[np.ndarray]) -> float | None:
    """Among (query, item) pairs shown at least twice, the share shown at two ranks or more
    (``pairs``: per shown item, its query, item and rank in one word, rank in the low 7
    bits; emptied on the way, to hold one copy at a time)."""
    if not pairs:
        return None
    shown = np.concatenate(pairs)
    pairs.clear()
    shown.sort()
    n = len(shown)
    new_rank = np.empty(n, dtype=bool)  # a (pair, rank) not seen before
    new_rank[0] = True
    np.not_equal(shown[1:], shown[:-1], out=new_rank[1:])
    shown >>= np.uint64(7)  # now the pair alone
    new_pair = np.empty(n, dtype=bool)
    new_pair[0] = True
    np.not_equal(shown[1:], shown[:-1], out=new_pair[1:])
    del shown
    head = np.flatnonzero(new_pair)
    shows = np.diff(np.r_[head, n])
    ranks = np.add.reduceat(new_rank, head, dtype=np.int64)
    repeated = shows >= 2
    return float((ranks[repeated] >= 2).sum() / repeated.sum()) if repeated.any() else None


def _searches(path: Path) -> tuple[dict, list[float], np.ndarray]:
    shown = np.zeros(101, dtype=np.int64)  # searches showing at least r results, r = 0..100
    clicked = np.zeros(100, dtype=np.int64)
    query_codes, item_codes = _Codes(), _Codes()
    counts_by_code: list[np.ndarray] = []
    served_by_code: list[np.ndarray] = []  # per search: -1 gave up, else results shown
    pairs: list[np.ndarray] = []
    pages: list[list[str]] = []  # the first pages, for the id-step check
    for batch in _columns(path, _SEARCHES):
        query = query_codes.of(batch.column("query"))
        counts_by_code.append(query)
        served_by_code.append(pc.fill_null(batch.column("results"), -1).to_numpy())
        if len(pages) < PAGE_SAMPLE:
            pages.extend(p for p in batch.column("items").to_pylist() if p and len(p) >= 5)
        results = pc.fill_null(batch.column("results"), 0).to_numpy()
        shown += np.bincount(np.clip(results, 0, 100), minlength=101)
        positions = pc.list_flatten(batch.column("clicked_positions")).to_numpy()
        positions = positions[positions <= 100]
        clicked += np.bincount(positions - 1, minlength=100)[:100]
        items = batch.column("items")
        flat = pc.list_flatten(items)
        if len(flat):
            parent = pc.list_parent_indices(items).to_numpy()
            lengths = pc.fill_null(pc.list_value_length(items), 0).to_numpy()
            first = np.concatenate(([0], np.cumsum(lengths)))[:-1]
            rank = np.minimum(np.arange(len(flat)) - first[parent], 127).astype(np.uint64)
            pair = (query[parent].astype(np.uint64) << 32) | item_codes.of(flat).astype(np.uint64)
            pairs.append((pair << 7) | rank)  # (query, item, rank) in one word
    # ranks shown: searches with at least r + 1 results, r = 0..99
    at_least = np.cumsum(shown[::-1])[::-1][1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.where(at_least > 0, clicked / np.maximum(at_least, 1), np.nan)
    ranks = int((at_least > 0).sum())
    if len(query_codes) >= 1 << 25 or len(item_codes) >= 1 << 32:
        raise SessionsimError(f"{path}: too many distinct queries or items to count")
    all_queries = np.concatenate(counts_by_code) if counts_by_code else np.zeros(0, np.int64)
    counts = np.sort(np.bincount(all_queries))[::-1]
    counts = counts[counts > 0]
    total = int(counts.sum())
    values = {
        "ctr_at_1": float(curve[0]) if ranks else None,
        "ctr_10_over_1": float(curve[9] / curve[0]) if ranks >= 10 and curve[0] > 0 else None,
        "rank_variety": _rank_variety(pairs),
        "zipf_head_exponent": _zipf_head(counts),
        "distinct_query_ratio": len(counts) / total if total else None,
        "page_id_step_share": _id_steps(pages[:PAGE_SAMPLE]),
    }
    if counts_by_code:
        values.update(_zero_results(all_queries, np.concatenate(served_by_code)))
    return values, [float(c) for c in curve[:ranks]], counts


def _zero_results(query: np.ndarray, served: np.ndarray) -> dict[str, float | None]:
    """Zero results by how often the query occurs (one-off vs 5+ times), and pages shorter
    than the longest, among searches that were served."""
    seen = np.bincount(query)[query]
    ok = served >= 0
    once, often = ok & (seen == 1), ok & (seen >= 5)
    zero = served == 0
    ratio = None
    if once.sum() >= 200 and often.sum() >= 200 and zero[often].any():
        ratio = float(zero[once].mean() / zero[often].mean())
    paged = served > 0
    short = float((served[paged] < served.max()).mean()) if paged.any() else None
    return {"zero_result_tail_ratio": ratio, "short_page_share": short}


def _id_number(text: str) -> int | None:
    body = text.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
    if body.isdigit() and body != text:
        return int(body)  # a prefix and a decimal number: "it512301"
    try:
        return int(text, 16)
    except ValueError:
        return int(body) if body.isdigit() else None


def _id_steps(pages: list[list[str]]) -> float | None:
    """The share of pages (5+ items) whose item ids, read as numbers, differ by multiples of
    one step > 1: ids that give away the rest of the page (random ids: about 0.2%)."""
    stepped = judged = 0
    for page in pages:
        read = [_id_number(i) for i in page]
        numbers = [n for n in read if n is not None]
        if len(numbers) < len(read):
            continue
        judged += 1
        stepped += math.gcd(*(abs(n - numbers[0]) for n in numbers[1:])) > 1
    return stepped / judged if judged >= 100 else None


_QUERY_ROWS = pa.schema(
    [
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("query", pa.string()),
        ("items", pa.list_(pa.string())),
        ("clicked_positions", pa.list_(pa.int64())),
    ]
)


def _query_behaviour(path: Path) -> dict[str, float | None]:
    """What users type and click, judged from the searches file: terms per query, one-term
    share, consecutive queries of a visit sharing a term (reformulation), queries a user
    typed in an earlier visit (re-finding) and of those with a click before, the same item
    clicked again; searches clicked out of rank order, and clicks on an item already
    clicked in the search."""
    users, sessions, queries = _Codes(), _Codes(), _Codes()
    item_code: dict[str, int] = {}  # the first clicked item of a search (-1: none)
    u_parts, s_parts, q_parts, c_parts = [], [], [], []
    terms: list[int] = []
    shared = pairs = 0
    n_clicks = repeated = multi = disordered = 0
    last: tuple[int, set[str]] | None = None  # the previous search: session, its terms
    for batch in _columns(path, _QUERY_ROWS):
        if not batch.num_rows:
            continue
        text = batch.column("query").to_pylist()
        session = sessions.of(batch.column("session_id"))
        u_parts.append(users.of(batch.column("user_id")))
        s_parts.append(session)
        q_parts.append(queries.of(batch.column("query")))
        clicked = batch.column("clicked_positions").to_pylist()
        shown = batch.column("items").to_pylist()
        first = [
            page[c[0] - 1] if c and page and c[0] <= len(page) else None
            for c, page in zip(clicked, shown, strict=True)
        ]
        c_parts.append(
            np.array([-1 if f is None else item_code.setdefault(f, len(item_code)) for f in first])
        )
        for c in clicked:
            if not c:
                continue
            n_clicks += len(c)
            repeated += len(c) - len(set(c))
            if len(set(c)) >= 2:
                multi += 1
                disordered += any(b < a for a, b in zip(c, c[1:], strict=False))
        for s_code, t in zip(session.tolist(), text, strict=True):
            words = set((t or "").split())
            terms.append(len(words))
            if last is not None and last[0] == s_code:
                pairs += 1
                shared += bool(words & last[1])
            last = (s_code, words)
    if not terms:
        return {}
    n_terms = np.array(terms)
    out: dict[str, float | None] = {
        "terms_per_query": float(n_terms.mean()),
        "one_term_share": float((n_terms == 1).mean()),
        "reformulation_share": shared / pairs if pairs >= 100 else None,
        "out_of_order_share": disordered / multi if multi >= 50 else None,
        "repeat_click_share": repeated / n_clicks if n_clicks >= 200 else None,
    }
    user, session = np.concatenate(u_parts), np.concatenate(s_parts)
    query, item = np.concatenate(q_parts), np.concatenate(c_parts)
    order = np.lexsort((np.arange(len(user)), query, user))  # by user, query, time
    u, q, s, it = user[order], query[order], session[order], item[order]
    pair_start = np.r_[True, (u[1:] != u[:-1]) | (q[1:] != q[:-1])]
    group = np.cumsum(pair_start) - 1
    first_session = s[pair_start][group]
    repeat = s != first_session  # the user typed it in an earlier visit
    out["repeat_query_share"] = float(repeat.mean())
    earlier_click = it[pair_start][group]  # the first search's first click
    judged = repeat & (earlier_click >= 0) & (it >= 0)
    same = it[judged] == earlier_click[judged]
    out["reclick_share"] = float(same.mean()) if judged.sum() >= 50 else None
    return out


def _zipf_head(counts: np.ndarray) -> float | None:
    """Fit log(count) = c - s log(rank) over the head: ranks seen often enough to count."""
    head = counts[:HEAD_MAX_RANK][counts[:HEAD_MAX_RANK] >= HEAD_MIN_COUNT]
    if len(head) < 10:
        return None
    slope = np.polyfit(np.log(np.arange(1, len(head) + 1)), np.log(head), 1)[0]
    return float(-slope)


def _visits(path: Path) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    users, starts, ends, searches = [], [], [], []
    codes = _Codes()
    for batch in _columns(path, _VISITS):
        users.append(codes.of(batch.column("user_id")))
        starts.append(_ms(batch.column("start")) / 1000.0)
        ends.append(_ms(batch.column("end")) / 1000.0)
        searches.append(pc.fill_null(batch.column("searches"), 0).to_numpy())
    user = np.concatenate(users) if users else np.zeros(0, np.int64)
    start = np.concatenate(starts) if starts else np.zeros(0)
    end = np.concatenate(ends) if ends else np.zeros(0)
    n_search = np.concatenate(searches) if searches else np.zeros(0, np.int64)
    length = end - start
    order = np.lexsort((start, user))
    same_user = user[order]
    follows = same_user[1:] == same_user[:-1]
    gaps = (start[order][1:] - end[order][:-1])[follows]
    searching = n_search[n_search > 0]
    values = {
        "queries_per_visit": float(searching.mean()) if len(searching) else None,
        "single_query_share": float((searching == 1).mean()) if len(searching) else None,
        "no_search_share": float((n_search == 0).mean()) if len(n_search) else None,
        "short_visit_share": float((length <= 300.0).mean()) if len(length) else None,
        "quick_return_share": float((gaps <= QUICK_RETURN_S).mean()) if len(gaps) else None,
        **_turnover(user, start),
    }
    return values, length, gaps, searching, start


def _turnover(user: np.ndarray, start: np.ndarray) -> dict[str, float | None]:
    """Over a run of six days or more: of the users active on each of its first three days,
    those silent on all of its last three (churn); of those active on each of the last
    three, those silent on all of the first three (joins). A fixed population shows only
    chance (about 2% on a week of ``diurnal_week``). Over a week or more: daily actives
    over weekly actives, the first seven days."""
    out: dict[str, float | None] = {"churned_share": None, "joined_share": None, "dau_wau": None}
    if not len(start) or start.max() - start.min() < 6 * 86_400.0:
        return out
    day = ((start - start.min()) // 86_400.0).astype(np.int64)
    days = int(day.max()) + 1
    users = int(user.max()) + 1
    active = np.zeros((users, days), dtype=bool)
    active[user, day] = True
    head, tail = active[:, :3], active[:, days - 3 :]
    steady_early, steady_late = head.all(axis=1), tail.all(axis=1)
    if steady_early.any():
        out["churned_share"] = float((~tail[steady_early].any(axis=1)).mean())
    if steady_late.any():
        out["joined_share"] = float((~head[steady_late].any(axis=1)).mean())
    if days >= 7:  # stickiness: mean daily actives over the week's actives
        week = active[:, :7]
        weekly = int(week.any(axis=1).sum())
        out["dau_wau"] = float(week.sum(axis=0).mean() / weekly) if weekly else None
    return out


def _event_gaps(path: Path) -> dict[str, float | None]:
    """Two gaps inside a visit, read from the truth's events in visit order: post-click
    dwell (a click to the next click or search of its visit, the server-side dwell of Kim
    et al. 2014), judged by the share of 30 s or more; and a search to its results on the
    device clock, judged by how many fall on the single most common millisecond value (a
    latency floor or a constant delay shows up as a spike there)."""
    dwell, answer = [], []
    codes = _Codes()
    last: tuple[int, int, float, float] | None = None  # the previous row: session, kind, ts
    for batch in _columns(path, _TRUE_EVENTS):
        if not batch.num_rows:
            continue
        session = codes.of(batch.column("session_id"))
        kind_col = batch.column("type")
        kind = np.zeros(batch.num_rows, dtype=np.int64)
        for code, name in enumerate(("click", "search", "results"), start=1):
            hit = pc.fill_null(pc.equal(kind_col, name), False).to_numpy(zero_copy_only=False)
            kind[hit] = code
        true_ts = _ms(batch.column("true_ts")) / 1000.0
        ts = _ms(batch.column("ts")).astype(np.float64)
        if last is not None:  # the row before this batch
            session = np.r_[last[0], session]
            kind, true_ts, ts = np.r_[last[1], kind], np.r_[last[2], true_ts], np.r_[last[3], ts]
        same = session[1:] == session[:-1]
        after_click = same & (kind[:-1] == 1) & ((kind[1:] == 1) | (kind[1:] == 2))
        dwell.append((true_ts[1:] - true_ts[:-1])[after_click])
        answered = same & (kind[:-1] == 2) & (kind[1:] == 3)
        answer.append((ts[1:] - ts[:-1])[answered])
        last = (int(session[-1]), int(kind[-1]), float(true_ts[-1]), float(ts[-1]))
    x = np.concatenate(dwell) if dwell else np.zeros(0)
    gaps = np.concatenate(answer).astype(np.int64) if answer else np.zeros(0, np.int64)
    spike = None
    if len(gaps) >= MIN_SPIKE_GAPS:
        _, counts = np.unique(gaps, return_counts=True)
        spike = float(counts.max() / len(gaps))
    return {
        "long_dwell_share": float((x >= 30.0).mean()) if len(x) >= MIN_GAPS else None,
        "results_gap_spike": spike,
    }


_COPIES = pa.schema([("event_id", pa.string()), ("deliveries", pa.int64())])
_RECEIVED = pa.schema([("event_id", pa.string()), ("received_at", pa.timestamp("ms", tz="UTC"))])


def _copy_spacing(truth_events: Path, events: Path) -> float | None:
    """Of the events delivered three times or more, the share whose copies arrived evenly
    spaced (every gap within 1 ms of the others): retries with jitter never are. Memory
    holds only the duplicated events."""
    copied: set[str] = set()
    for batch in _columns(truth_events, _COPIES):
        many = pc.fill_null(pc.greater_equal(batch.column("deliveries"), 3), False)
        copied.update(batch.column("event_id").filter(many).to_pylist())
    if len(copied) < MIN_COPIED:
        return None
    received: dict[str, list[int]] = {}
    wanted = pa.array(sorted(copied))
    for batch in _columns(events, _RECEIVED):
        rows = batch.filter(pc.is_in(batch.column("event_id"), value_set=wanted))
        for event_id, at in zip(
            rows.column("event_id").to_pylist(),
            _ms(rows.column("received_at")).tolist(),
            strict=True,
        ):
            received.setdefault(event_id, []).append(at)
    even = judged = 0
    for times in received.values():
        if len(times) >= 3:
            steps = np.diff(np.sort(np.asarray(times)))
            judged += 1
            even += int(steps.max() - steps.min() <= 1)
    return even / judged if judged >= MIN_COPIED else None


def _device_order(path: Path, t0_ms: int) -> tuple[float | None, np.ndarray]:
    """Return the share of users whose events arrived in non-decreasing ``ts`` order, and
    the events per hour of ``ts`` from the start."""
    codes = _Codes()
    top = np.zeros(0, dtype=np.int64)  # per user: the latest ts so far
    disordered = np.zeros(0, dtype=bool)
    hours = np.zeros(0, dtype=np.int64)
    for batch in _columns(path, _EVENTS):
        if not batch.num_rows:
            continue
        user = codes.of(batch.column("user_id"))
        ts = _ms(batch.column("ts"))
        grow = len(codes) - len(top)
        top = np.r_[top, np.full(grow, np.iinfo(np.int64).min)]
        disordered = np.r_[disordered, np.zeros(grow, dtype=bool)]
        hour = (ts - t0_ms) // 3_600_000
        hour = hour[hour >= 0]
        if len(hour) and hour.max() >= len(hours):
            hours = np.r_[hours, np.zeros(int(hour.max()) + 1 - len(hours), np.int64)]
        hours += np.bincount(hour, minlength=len(hours))
        # Per user, in arrival order: is ts behind the latest ts of that user so far?
        order = np.argsort(user, kind="stable")
        u, t = user[order], ts[order]
        head = np.r_[True, u[1:] != u[:-1]]
        base = int(t.min()) if len(t) else 0
        span = int(max(t.max(), top.max(initial=base)) - base) + 2 if len(t) else 1
        group = np.cumsum(head) - 1
        shifted = np.maximum(t, np.maximum(top[u], base - 1)) - base + 1 + group * span
        running = np.maximum.accumulate(shifted) - group * span + base - 1
        before = np.r_[top[u[:1]], running[:-1]]
        before[head] = top[u[head]]
        disordered[u[t < before]] = True
        last = np.r_[np.flatnonzero(head)[1:] - 1, len(u) - 1]
        top[u[last]] = running[last]
    seen = len(codes)
    return (1.0 - int(disordered.sum()) / seen if seen else None), hours


# What a client reports, judged on its own (not with the simulator's catalogue): a device
# string of a client in use in 2024-2026 on each platform (iOS 17.5+ on an iPhone model id,
# Android 10+ with a model, Chrome/Edge 131+, Firefox 133+, Safari 17.5+).
_CURRENT_CLIENT = {
    "ios": re.compile(r"^iPhone\d+,\d+; iOS (17\.[5-9]|1[89]|2\d)(\.\d+)*$"),
    "android": re.compile(r"^.+; Android (1\d)$"),
    "web": re.compile(
        r"^Mozilla/5\.0 \((Windows NT 10\.0; Win64; x64|Macintosh; Intel Mac OS X 10_15_7|"
        r"X11; Linux x86_64)(; rv:\d+\.0)?\) .*(Chrome/1[3-9]\d\.0\.0\.0|Firefox/1[3-9]\d\.0|"
        r"Version/(17\.[5-9]|18|26)[.\d]* Safari)"
    ),
}
_OPENS = pa.schema(
    [
        ("type", pa.string()),
        ("user_id", pa.string()),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("platform", pa.string()),
        ("device", pa.string()),
        ("app_version", pa.string()),
        ("country", pa.string()),
    ]
)
MIN_COUNTRY_OPENS = 200  # a country's iOS share is judged from this many mobile opens


def _local_hours(ts_ms: np.ndarray, zone: str) -> np.ndarray:
    """The local hour (0-23) of each UTC instant in an IANA zone (the offset read once per
    UTC hour: every zone of ``ONE_ZONE`` changes offset on a whole UTC hour)."""
    utc_hour, back = np.unique(ts_ms // 3_600_000, return_inverse=True)
    tz = ZoneInfo(zone)
    offset_ms = np.array(
        [
            datetime.fromtimestamp(int(h) * 3600, tz).utcoffset().total_seconds() * 1000  # type: ignore[union-attr]
            for h in utc_hour.tolist()
        ],
        dtype=np.int64,
    )
    return ((ts_ms + offset_ms[back]) // 3_600_000) % 24


def _local_day(hours: np.ndarray) -> dict[str, float | None]:
    """The peak hour of app opens in local time (a 3-hour moving sum, so one noisy hour
    does not decide) and the night share (01:00-05:59)."""
    total = int(hours.sum())
    if total < MIN_LOCAL_OPENS:
        return {"local_peak_hour": None, "night_share": None}
    moving = hours + np.roll(hours, 1) + np.roll(hours, -1)
    return {
        "local_peak_hour": float(np.argmax(moving)),
        "night_share": float(hours[list(NIGHT_HOURS)].sum() / total),
    }


def _id_density(ids: list[str]) -> float | None:
    """Users over the span of their ids read as numbers (hex digits kept): near 1 for
    sequential ids (which leak sign-up order and the user count: the German tank
    problem), vanishing for opaque ones."""
    numbers = [int(d, 16) for d in (re.sub(r"[^0-9a-f]", "", i.lower()) for i in ids) if d]
    if len(numbers) < 2:
        return None
    return len(numbers) / (max(numbers) - min(numbers) + 1)


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in text.split("."))


def _clients(path: Path) -> dict[str, float | None]:
    """The clients' metrics of a run's ``app_open`` events: current client strings, the iOS
    share of phones in the US and in India, opens on the day's three newest app versions,
    and users whose app version ever goes down."""
    plausible = opens = 0
    ios: dict[str, list[int]] = {"US": [0, 0], "IN": [0, 0]}
    users, days, versions = _Codes(), [], []
    version_of: dict[str, int] = {}
    user_rows, ts_rows = [], []
    local = np.zeros(24, dtype=np.int64)
    for batch in _columns(path, _OPENS):
        is_open = pc.fill_null(pc.equal(batch.column("type"), "app_open"), False)
        rows = batch.filter(is_open)
        if not rows.num_rows:
            continue
        opens += rows.num_rows
        platform = rows.column("platform").to_pylist()
        for p, d in zip(platform, rows.column("device").to_pylist(), strict=True):
            pattern = _CURRENT_CLIENT.get(p or "")
            plausible += bool(pattern and d and pattern.match(d))
        for p, c in zip(platform, rows.column("country").to_pylist(), strict=True):
            if c in ios and p in ("ios", "android"):
                ios[c][0] += p == "ios"
                ios[c][1] += 1
        ts = _ms(rows.column("ts"))
        country = rows.column("country")
        for code, zone in ONE_ZONE.items():
            here = pc.fill_null(pc.equal(country, code), False).to_numpy(zero_copy_only=False)
            if here.any():
                local += np.bincount(_local_hours(ts[here], zone), minlength=24)
        user_rows.append(users.of(rows.column("user_id")))
        ts_rows.append(ts)
        days.append(ts // 86_400_000)
        versions.append(
            np.array(
                [
                    version_of.setdefault(v or "", len(version_of))
                    for v in rows.column("app_version").to_pylist()
                ]
            )
        )
    values: dict[str, float | None] = {
        "current_client_share": plausible / opens if opens else None,
        "ios_share_us": ios["US"][0] / ios["US"][1] if ios["US"][1] >= MIN_COUNTRY_OPENS else None,
        "ios_share_in": ios["IN"][0] / ios["IN"][1] if ios["IN"][1] >= MIN_COUNTRY_OPENS else None,
        "newest_versions_share": None,
        "version_downgrade_share": None,
        **_local_day(local),
        "user_id_density": _id_density(users.names()),
    }
    if not opens:
        return values
    names = sorted(version_of, key=_version_key)
    order = np.empty(len(names), dtype=np.int64)  # a version's code -> its place in release order
    for place, name in enumerate(names):
        order[version_of[name]] = place
    day, place = np.concatenate(days), order[np.concatenate(versions)]
    newest = 0
    for d in np.unique(day).tolist():
        today = place[day == d]
        top3 = np.unique(today)[-3:]
        newest += int(np.isin(today, top3).sum())
    values["newest_versions_share"] = newest / opens
    user, ts = np.concatenate(user_rows), np.concatenate(ts_rows)
    by = np.lexsort((ts, user))
    u, v = user[by], place[by]
    same = u[1:] == u[:-1]
    went_down = np.unique(u[1:][same & (v[1:] < v[:-1])])
    values["version_downgrade_share"] = len(went_down) / len(users)
    return values


def _hour_steps(starts: np.ndarray, begin_s: float, end_s: float) -> float | None:
    """Jumps of visit starts at the top of each UTC hour, in units of Poisson noise: per
    hour, the change across it (10-minute bins :50-:00 to :00-:10) less the mean change of
    the bins on either side (a trend cancels), squared over its variance, averaged. Near 1
    for a smooth rate; a rate that steps at the hour reads higher as the run grows."""
    if len(starts) < MIN_STEP_VISITS:
        return None
    first, last = math.ceil(begin_s / 600.0), math.floor(end_s / 600.0)  # whole bins only
    bins = np.floor(starts / 600.0).astype(np.int64)
    bins = bins[(bins >= first) & (bins < last)]
    c = np.bincount(bins - first, minlength=last - first).astype(np.float64)
    i = np.flatnonzero(np.arange(first, last) % 6 == 5)  # :50-:00, before an hour
    i = i[(i >= 1) & (i + 2 < len(c))]
    before, at, after, beyond = c[i - 1], c[i], c[i + 1], c[i + 2]
    jump = 1.5 * (after - at) - 0.5 * (beyond - before)
    var = 2.25 * (after + at) + 0.25 * (beyond + before)
    ok = var > 0
    return float((jump[ok] ** 2 / var[ok]).mean()) if ok.sum() >= 12 else None


def measure_realism(run_dir: Path) -> Realism:
    """Read a run directory and compute every realism metric."""
    truth = run_dir / "truth"
    try:
        summary = orjson.loads((truth / "summary.json").read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise SessionsimError(
            f"{truth / 'summary.json'}: cannot read the run summary: {e}"
        ) from None
    try:
        scenario: Scenario = load_scenario(run_dir / "scenario.yaml", model=RunScenario)
    except SimulatorError as e:
        raise SessionsimError(str(e)) from None
    d = scenario.delivery
    faultless = d.perfect and d.parallel_requests == 1
    values: dict[str, float | None] = {}
    searches = summary["searches"]
    values["clicks_per_search"] = summary["clicks_per_search"]
    values["abandonment"] = summary["abandoned_searches"] / searches if searches else None
    search_values, curve, counts = _searches(run_file(truth, "searches"))
    values.update(search_values)
    values.update(_query_behaviour(run_file(truth, "searches")))
    visit_values, lengths, gaps, per_visit, starts = _visits(run_file(truth, "sessions"))
    values.update(visit_values)
    values.update(_event_gaps(run_file(truth, "events")))
    values["copy_spacing_even_share"] = _copy_spacing(
        run_file(truth, "events"), run_file(run_dir, "events")
    )
    expected = np.asarray(summary.get("expected_arrivals_by_hour") or [], dtype=float)
    t0 = scenario.start.timestamp()
    values.update(_clients(run_file(run_dir, "events")))
    values["hour_step_z2"] = _hour_steps(starts, t0, t0 + scenario.duration)
    values["device_order_share"], events_by_hour = _device_order(
        run_file(run_dir, "events"), round(t0 * 1000)
    )
    days = scenario.duration / 86_400.0
    span = f"{days:g} d" if days >= 1 else f"{scenario.duration / 3600.0:g} h"
    about = (
        f"{scenario.population.users:,} users, {span} from {scenario.start:%Y-%m-%d}, "
        f"seed {scenario.seed}"
    )
    return Realism(
        values, faultless, curve, lengths, gaps, per_visit, events_by_hour, expected, counts, about
    )


def realism_block(run_dir: Path) -> dict:
    """Return the ``realism`` block of a report: per metric, its value, band and verdict."""
    rows = measure_realism(run_dir).rows(load_bands())
    return {r.key: {"value": r.value, "band": list(r.band), "verdict": r.verdict} for r in rows}
