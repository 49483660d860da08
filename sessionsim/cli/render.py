"""Every human-readable table the commands print: the simulation, the check report, the
sweep and the realism table (the data behind them is computed elsewhere)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator import Summary, format_duration

if TYPE_CHECKING:
    from sessionsim.analysis.compare import CompareRow
    from sessionsim.analysis.sweep import SweepRow
    from sessionsim.realism import RealismRow
    from sessionsim.scoring.report import Report

__all__ = [
    "format_compare",
    "format_realism",
    "format_report",
    "format_simulation",
    "format_sweep",
]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{1000 * x:.0f} ms"


def format_simulation(s: Summary, out: str | None = None) -> str:
    """Return the one-screen summary of a simulation."""
    searches = s.searches or 1
    lines = [
        f"events            {s.events:>12,}",
        f"visits (true)     {s.sessions:>12,}   dropped overlapping: {s.dropped_visits:,}",
        f"searches          {s.searches:>12,}   clicked: {s.clicked_searches:,}"
        f"   clicks: {s.clicks:,}",
        f"CTR               {_pct(s.ctr):>12}   expected (click model): "
        f"{_pct(s.expected_ctr)}, on pages shown: {_pct(s.expected_ctr_served)}",
        f"clicks/search     {s.clicks_per_search or 0:>12.3f}",
        f"zero results      {_pct(s.zero_result_searches / searches):>12}"
        f"   abandoned (results, no click): {_pct(s.abandoned_searches / searches)}",
        f"gave up waiting   {_pct(s.timed_out_searches / searches):>12}"
        f"   backend latency p50 {_ms(s.backend_latency_p50_s)},"
        f" p99 {_ms(s.backend_latency_p99_s)}",
    ]
    if out:
        lines.append(f"written to        {out}")
    return "\n".join(lines)


def format_sweep(rows: list[SweepRow]) -> str:
    """Return the sweep as a table, one line per (watermark, lateness, gap)."""
    head = (
        f"{'gap':>7} {'lateness':>9} {'watermark':>9} {'F1':>7} {'exact':>7} {'splits':>7} "
        f"{'merges':>7} "
        f"{'CTR err pp':>11} {'sessionizer':>12} {'data':>7} {'late':>8} {'p99 delay':>10}"
    )
    lines = [head]
    for r in rows:

        def pp(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:+.3f}"

        lines.append(
            f"{r.gap:>7} {r.lateness:>9} {r.watermark:>9} {r.pairwise_f1:>7.4f} "
            f"{r.sessions_exact:>7,} {r.split_rate:>7.1%} {r.merge_rate:>7.1%} "
            f"{pp(r.ctr_error):>11} {pp(r.ctr_error_sessionizer):>12} "
            f"{pp(r.ctr_error_data):>7} {r.late_events:>8,} "
            f"{format_duration(round(r.emission_delay_p99_s)):>10}" + (" *" if r.pareto else "")
        )
    return "\n".join(lines)


def _fmt(x: object, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{100 * x:+.3f} pp" if pct else f"{x:.4f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def format_report(r: Report) -> str:
    """Return the report as a readable table."""
    ci = r.ctr_measured_ci95
    ci_text = f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "n/a"
    rows = [
        (
            "sessionizer",
            f"sessions from {r.label}"
            if r.gap is None
            else f"{r.sessionizer} (gap {r.gap}, lateness {r.lateness}"
            + (f", per-user watermark, idle {r.idle})" if r.watermark == "per_user" else ")")
            + (f" [{r.label}]" if r.label != r.sessionizer else ""),
        ),
        ("events delivered", _fmt(r.events)),
        ("CTR true (behavioural)", _fmt(r.ctr_true)),
        ("CTR observable", _fmt(r.ctr_observable)),
        ("CTR measured", f"{_fmt(r.ctr_measured)}  95% CI {ci_text}"),
        (
            "CTR error",
            f"{_fmt(r.ctr_error, True)}  (sessionizer "
            f"{_fmt(r.ctr_error_sessionizer, True)}, data "
            f"{_fmt(r.ctr_error_data, True)})",
        ),
        (
            "searches true / measured",
            f"{_fmt(r.searches_true)} / {_fmt(r.searches_measured)}",
        ),
        ("sessions true / found", f"{_fmt(r.sessions_true)} / {_fmt(r.sessions_found)}"),
        (
            "exact / splits / merges",
            f"{_fmt(r.sessions_exact)} / {_fmt(r.splits)} / {_fmt(r.merges)}",
        ),
        (
            "pairwise P / R / F1",
            f"{r.pairwise_precision:.4f} / {r.pairwise_recall:.4f} / {r.pairwise_f1:.4f}",
        ),
        (
            "accepted / late / duplicates",
            f"{_fmt(r.accepted)} / {_fmt(r.late_events)} / {_fmt(r.duplicates)}",
        ),
        (
            "unknown / repeated / unplaced",
            f"{_fmt(r.unknown_events)} / {_fmt(r.repeated_events)} / {_fmt(r.unplaced_events)}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _value(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"


def _band_text(low: float | None, high: float | None) -> str:
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"[{lo}, {hi}]"


def format_realism(rows: list[RealismRow]) -> str:
    """Return the realism table: metric, value, band, verdict, source."""
    width = max(len(r.metric) for r in rows)
    lines = [f"{'metric':<{width}}  {'value':>8}  {'band':>12}  verdict  source"]
    for r in rows:
        lines.append(
            f"{r.metric:<{width}}  {_value(r.value):>8}  {_band_text(*r.band):>12}  "
            f"{r.verdict:<7}  {r.source}"
        )
    ok = sum(r.verdict == "ok" for r in rows)
    faults = sum(r.verdict == "fault" for r in rows)
    out = sum(r.verdict == "OUT" for r in rows)
    tail = f"; {faults} outside by the scenario's faults" if faults else ""
    na = sum(r.verdict == "n/a" for r in rows)
    not_judged = f"; {na} not judged (n/a: too little data of that kind)" if na else ""
    lines.append(f"{ok} of {len(rows)} rows inside their band{tail}; {out} out{not_judged}")
    return "\n".join(lines)


def format_compare(rows: list[CompareRow]) -> str:
    """The engines side by side, one line each."""
    lines = [
        f"{'engine':<14}{'CTR err pp':>11}{'F1':>8}{'sessions':>10}{'splits':>8}{'merges':>8}"
        f"{'late':>8}{'dups':>7}{'events/s':>11}{'start-up s':>12}"
    ]
    for r in rows:
        err = "n/a" if r.ctr_error is None else f"{100 * r.ctr_error:+.3f}"
        lines.append(
            f"{r.engine:<14}{err:>11}{r.pairwise_f1:>8.4f}{r.sessions_found:>10,}"
            f"{r.splits:>8,}{r.merges:>8,}{_fmt(r.late_events):>8}{_fmt(r.duplicates):>7}"
            f"{r.events_per_s:>11,.0f}{r.startup_s:>12.1f}"
        )
    return "\n".join(lines)
