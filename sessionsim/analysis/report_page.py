"""One page per run: a self-contained HTML file (no script, no fetch) with the check's
numbers, the realism table with its figure (bands drawn, OUT marked), the sweep if the run
has one, and the live run's delivery and latency, with its rates and latency over time
(``live_stats.csv``), if it was live."""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import orjson

from sessionsim.errors import SessionsimError
from sessionsim.extras import installed
from sessionsim.live.timeline import STYLE, live_tables
from sessionsim.realism import RealismRow, load_bands, measure_realism

__all__ = ["report_page"]


_CHECK = (
    ("label", "setting"),
    ("ctr_true", "CTR true (behavioural)"),
    ("ctr_observable", "CTR observable"),
    ("ctr_measured", "CTR measured"),
    ("ctr_error", "CTR error (measured - true)"),
    ("sessions_true", "true visits"),
    ("sessions_found", "sessions found"),
    ("sessions_exact", "sessions exact"),
    ("splits", "splits"),
    ("merges", "merges"),
    ("pairwise_precision", "pairwise precision"),
    ("pairwise_recall", "pairwise recall"),
    ("pairwise_f1", "pairwise F1"),
    ("late_events", "late events"),
    ("duplicates", "duplicates"),
)
_SWEEP = ("gap", "lateness", "watermark", "ctr_error", "pairwise_f1", "emission_delay_p99_s")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4f}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value:,}</td>'
    return f"<td>{html.escape('n/a' if value is None else str(value))}</td>"


def _table(head: tuple[str, ...], rows: list[list[Any]]) -> str:
    top = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{top}</tr>{body}</table>"


def _json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as e:
        raise SessionsimError(f"{path}: cannot read: {e}") from None


def _realism_rows(rows: list[RealismRow]) -> str:
    lines = []
    for r in rows:
        low, high = r.band
        band = (
            f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
        )
        value = "n/a" if r.value is None else f"{r.value:.4g}"
        lines.append(
            f'<tr><td>{html.escape(r.metric)}</td><td class="num">{value}</td>'
            f'<td class="num">{band}</td><td class="{html.escape(r.verdict)}">'
            f"{html.escape(r.verdict)}</td><td class=note>{html.escape(r.source)}</td></tr>"
        )
    head = "<tr><th>metric</th><th>value</th><th>band</th><th>verdict</th><th>source</th></tr>"
    return f"<table>{head}{''.join(lines)}</table>"


def _history(path: Path) -> list[dict[str, str]]:
    """The live run's statistics, a row per second (none for a run that has none)."""
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise SessionsimError(f"{path}: cannot read: {e}") from None


def report_page(run_dir: Path) -> bytes:
    """The page of ``run_dir``, as UTF-8 HTML."""
    realism = measure_realism(run_dir)
    rows = realism.rows(load_bands())
    out = sum(r.verdict == "OUT" for r in rows)
    title = f"sessionsim run {run_dir}"
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(realism.about)}</p>",
        "<h2>Check</h2>",
    ]
    report = _json(run_dir / "report.json")
    if report is None:
        parts.append(
            f"<p class=note>No report.json: run <code>sessionsim check {run_dir}</code>.</p>"
        )
    else:
        parts.append(
            _table(("measure", "value"), [[label, report.get(key)] for key, label in _CHECK])
        )
    ok = sum(r.verdict == "ok" for r in rows)
    parts.append(f"<h2>Realism</h2><p id=realism-summary>{ok} of {len(rows)} rows inside their "
                 f"band; {out} OUT</p>")  # fmt: skip
    parts.append(_realism_rows(rows))
    if installed("matplotlib"):
        from sessionsim.realism.figure import plot_realism

        svg = plot_realism(realism, "realism", "svg", rows).decode()
        parts.append(f"<figure>{svg[svg.index('<svg') :]}</figure>")
    else:
        parts.append(
            "<p class=note>The figure needs matplotlib: pip install 'sessionsim[plot]'.</p>"
        )
    sweep = _json(run_dir / "sweep.json")
    if sweep is not None:
        sweep_rows = sweep.get("rows", sweep) if isinstance(sweep, dict) else sweep
        parts.append("<h2>Sweep</h2>")
        parts.append(_table(_SWEEP, [[r.get(k) for k in _SWEEP] for r in sweep_rows]))
    summary = _json(run_dir / "truth" / "summary.json") or {}
    live = summary.get("live")
    if live:
        parts.append("<h2>Live run</h2>")
        parts.append(live_tables(live, _history(run_dir / "live_stats.csv")))
    parts.append("</body></html>")
    return "\n".join(parts).encode()
