"""Reading the files of a run directory and of sessions produced elsewhere."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import orjson
from tqdm import tqdm

from sessionizer import SessionizerError
from sessionsim.scoring import Scorer

__all__ = ["load_truth", "new_scorer", "open_input", "read_sessions", "with_progress"]


@contextmanager
def open_input(path: str) -> Iterator[BinaryIO]:
    """Open a file for reading, or standard input for ``-``; a missing file is bad input."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise SessionizerError(f"{path}: cannot read: {e.strerror}") from None
    with f:
        yield f


def with_progress(f: BinaryIO, path: str, label: str) -> Iterator[bytes]:
    """Yield the lines of ``f``; for a file, show a bar of bytes read (rate, ETA) on stderr."""
    if path == "-":
        yield from f
        return
    with tqdm(
        total=os.path.getsize(path),
        desc=label,
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        delay=1.0,
        leave=False,
    ) as bar:
        done = 0
        for k, line in enumerate(f):
            done += len(line)
            if k % 8192 == 0:
                bar.update(done - bar.n)
            yield line


def _lines(path: Path) -> Iterator[tuple[int, dict]]:
    with open_input(str(path)) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise SessionizerError(f"{path}:{number}: (line): invalid JSON: {e}") from None
            if not isinstance(obj, dict):
                raise SessionizerError(f"{path}:{number}: (line): expected a JSON object")
            yield number, obj


def _ids(path: Path, number: int, obj: dict) -> list[str]:
    ids = obj.get("event_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise SessionizerError(f"{path}:{number}: event_ids: expected a list of strings")
    return ids


def load_truth(run_dir: Path) -> tuple[dict, dict[str, int], list[int]]:
    """Return the truth summary, each event's true visit (by index) and, per visit, how
    many of its events were delivered."""
    summary_path = run_dir / "truth" / "summary.json"
    if not summary_path.is_file():
        raise SessionizerError(f"{run_dir}: not a run directory (no truth/summary.json)")
    try:
        summary = orjson.loads(summary_path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise SessionizerError(f"{summary_path}: invalid JSON: {e}") from None
    required = ("ctr", "searches", "clicks_per_search")
    missing = [k for k in required if k not in summary] if isinstance(summary, dict) else []
    if not isinstance(summary, dict) or missing:
        raise SessionizerError(
            f"{summary_path}: {', '.join(missing) or '(top level)'}: "
            f"expected the simulator's truth summary"
        )
    labels: dict[str, int] = {}
    sessions = run_dir / "truth" / "sessions.jsonl"
    for number, obj in _lines(sessions):
        label = number - 1
        for eid in _ids(sessions, number, obj):
            labels[eid] = label
    delivered = [0] * (len(labels) and max(labels.values()) + 1)
    events = run_dir / "truth" / "events.jsonl"
    for number, obj in _lines(events):
        count = obj.get("deliveries")
        if not isinstance(count, int) or obj.get("event_id") not in labels:
            raise SessionizerError(
                f"{events}:{number}: expected an event of the truth with its deliveries"
            )
        delivered[labels[obj["event_id"]]] += count > 0
    return summary, labels, delivered


def new_scorer(delivered: list[int]) -> Scorer:
    """Return a scorer that knows how many events of each true visit were delivered."""
    scorer = Scorer()
    for label, count in enumerate(delivered):
        scorer.expect(label, count)
    return scorer


def read_sessions(path: Path, scorer: Scorer) -> dict:
    """Feed sessions produced elsewhere to ``scorer``; return their summed CTR counts."""
    totals = {"searches": 0, "clicked_searches": 0, "clicks": 0}
    for number, obj in _lines(path):
        scorer.found(_ids(path, number, obj))
        for key in totals:
            value = obj.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SessionizerError(
                    f"{path}:{number}: {key}: expected a count >= 0 (got {value!r})"
                )
            totals[key] += value
    return totals
