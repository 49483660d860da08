"""A live run over time, drawn: its rates and its acknowledgement latency, second by second.

The rows are the live statistics' (``stats.COLUMNS``, as ``live_stats.csv`` holds them). The
charts are inline SVG drawn here, not by matplotlib: the dashboard redraws them every
second inside the run's own process (matplotlib would take a tenth of a second of the
generator's time at each redraw) and a base install has no matplotlib. ``live_page`` is
the dashboard's page: the same tables as the run's report page, refreshed each second by
the browser (a meta refresh: no script).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["STYLE", "live_page", "live_tables", "timeline_svg"]

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1500px; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ok { color: #1a7f37; } .OUT { color: #cf222e; font-weight: bold; } .fault { color: #bf8700; }
.note { color: #666; } svg { max-width: 100%; height: auto; }
"""

MAX_POINTS = 900  # points per line: a longer history is thinned, evenly
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 900, 240, 70, 150, 28, 36
_COLOURS = ("#0969da", "#1a7f37", "#bf8700", "#8250df", "#cf222e")
_DASHES = ("", "7 4", "2 3", "9 3 2 3")  # lines that coincide (sent, acknowledged) stay seen

RATES = (
    ("target_eps", "target"),
    ("scheduled_eps", "scheduled"),
    ("sent_eps", "sent"),
    ("acked_eps", "acknowledged"),
)
LATENCY = (("ack_p50_ms", "ack p50"), ("ack_p99_ms", "ack p99"), ("ack_max_ms", "ack max"))


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _nice(top: float) -> float:
    """A round axis top at or above ``top``."""
    if top <= 0:
        return 1.0
    step = 10 ** len(str(int(top))) / 10
    for k in (1, 2, 2.5, 5, 10):
        if k * step >= top:
            return k * step
    return 10 * step


def timeline_svg(
    rows: Sequence[Mapping[str, Any]], series: Sequence[tuple[str, str]], title: str, unit: str
) -> str:
    """One chart: a line per ``(column, label)`` of ``series`` against wall seconds."""
    step = max(1, -(-len(rows) // MAX_POINTS))
    shown = list(rows[::step])
    xs = [_number(r.get("wall_s")) or 0.0 for r in shown]
    lines = []
    for column, label in series:
        points = [(x, _number(r.get(column))) for x, r in zip(xs, shown)]
        kept = [(x, y) for x, y in points if y is not None]
        if kept:
            lines.append((label, kept))
    x_top = max(xs[-1] if xs else 1.0, 1.0)
    y_top = _nice(max((y for _, pts in lines for _, y in pts), default=1.0))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + plot_w * x / x_top

    def py(y: float) -> float:
        return _TOP + plot_h * (1 - y / y_top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{_LEFT}" y="18" font-size="14" font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#bbb"/>',
    ]
    for k in range(5):
        y = y_top * k / 4
        parts.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
            f'stroke="#eee"/><text x="{_LEFT - 6}" y="{py(y) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{y:,.0f}</text>'
        )
        x = x_top * k / 4
        parts.append(
            f'<text x="{px(x):.1f}" y="{_TOP + plot_h + 16}" font-size="11" '
            f'text-anchor="middle">{x:,.0f}</text>'
        )
    parts.append(
        f'<text x="{_LEFT + plot_w / 2}" y="{_H - 4}" font-size="11" text-anchor="middle">'
        f"wall seconds since the start</text>"
        f'<text x="14" y="{_TOP + plot_h / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {_TOP + plot_h / 2})">{html.escape(unit)}</text>'
    )
    for k, (label, pts) in enumerate(lines):
        colour = _COLOURS[k % len(_COLOURS)]
        dash = f' stroke-dasharray="{_DASHES[k % len(_DASHES)]}"' if k % len(_DASHES) else ""
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.8"{dash} points="{path}"/>'
            f'<line x1="{_W - _RIGHT + 12}" x2="{_W - _RIGHT + 32}" y1="{_TOP + 10 + 18 * k}" '
            f'y2="{_TOP + 10 + 18 * k}" stroke="{colour}" stroke-width="3"{dash}/>'
            f'<text x="{_W - _RIGHT + 38}" y="{_TOP + 14 + 18 * k}" font-size="12">'
            f"{html.escape(label)}</text>"
        )
    if not lines:
        parts.append(
            f'<text x="{_LEFT + plot_w / 2}" y="{_TOP + plot_h / 2}" font-size="13" '
            'text-anchor="middle" fill="#666">nothing measured yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:,.2f}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value:,}</td>'
    return f"<td>{html.escape('n/a' if value is None else str(value))}</td>"


def live_tables(live: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    """The live run's section: its totals, latency percentiles, failures by reason, and
    the two charts over time (``rows``: the per-second statistics, possibly none)."""
    totals = ("sink", "speed", "sent", "acknowledged", "retried", "failed", "unsent", "stopped_by")
    parts = ["<table><tr><th>measure</th><th>value</th></tr>"]
    parts += [f"<tr><td>{k}</td>{_cell(live.get(k))}</tr>" for k in totals if k in live]
    parts.append("</table><table><tr><th>latency (ms)</th><th>p50</th><th>p95</th><th>p99</th>")
    parts.append("<th>max</th></tr>")
    for kind in ("ack", "request"):
        q = live.get(f"{kind}_latency_ms") or {}
        cells = "".join(_cell(q.get(k)) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        parts.append(f"<tr><td>{kind}</td>{cells}</tr>")
    parts.append("</table>")
    reasons = live.get("failures_by_reason") or {}
    if reasons:
        parts.append("<table><tr><th>failed or unsent because</th><th>copies</th></tr>")
        parts += [f"<tr><td>{html.escape(r)}</td>{_cell(n)}</tr>" for r, n in reasons.items()]
        parts.append("</table>")
    if rows:
        parts.append(f"<figure>{timeline_svg(rows, RATES, 'events per second', 'events/s')}")
        parts.append(f"{timeline_svg(rows, LATENCY, 'acknowledgement latency', 'ms')}</figure>")
    return "".join(parts)


def live_page(title: str, live: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The dashboard's page while a run goes: refreshed by the browser each second."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta http-equiv="refresh" content="1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><h2>Live run</h2>{live_tables(live, rows)}"
        "<p class=note>Updated each second while the run goes; the whole run's page: "
        "<code>sessionsim report RUN_DIR --out report.html</code>.</p></body></html>"
    ).encode()
