"""Human-readable summaries printed at the end of a command."""

from __future__ import annotations

from simulator import format_duration

__all__ = ["format_simulation", "format_sweep"]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{1000 * x:.0f} ms"


def format_simulation(s: dict, out: str | None = None) -> str:
    """Return the one-screen summary of a simulation."""
    searches = s["searches"] or 1
    lines = [
        f"events            {s['events']:>12,}",
        f"visits (true)     {s['sessions']:>12,}   dropped overlapping: {s['dropped_visits']:,}",
        f"searches          {s['searches']:>12,}   clicked: {s['clicked_searches']:,}"
        f"   clicks: {s['clicks']:,}",
        f"CTR               {_pct(s['ctr']):>12}   expected (click model): "
        f"{_pct(s['expected_ctr'])}, on pages shown: {_pct(s['expected_ctr_served'])}",
        f"clicks/search     {s['clicks_per_search'] or 0:>12.3f}",
        f"zero results      {_pct(s['zero_result_searches'] / searches):>12}"
        f"   abandoned (results, no click): {_pct(s['abandoned_searches'] / searches)}",
        f"gave up waiting   {_pct(s['timed_out_searches'] / searches):>12}"
        f"   backend latency p50 {_ms(s['backend_latency_p50_s'])},"
        f" p99 {_ms(s['backend_latency_p99_s'])}",
    ]
    if out:
        lines.append(f"written to        {out}")
    return "\n".join(lines)


def format_sweep(rows: list[dict]) -> str:
    """Return the sweep as a table, one line per (watermark, lateness, gap)."""
    head = (
        f"{'gap':>7} {'lateness':>9} {'watermark':>9} {'F1':>7} {'exact':>7} {'splits':>7} "
        f"{'merges':>7} "
        f"{'CTR err pp':>11} {'sessionizer':>12} {'data':>7} {'late':>8} {'p99 delay':>10}"
    )
    lines = [head]
    for r in rows:

        def pp(x):
            return "n/a" if x is None else f"{100 * x:+.3f}"

        lines.append(
            f"{r['gap']:>7} {r['lateness']:>9} {r['watermark']:>9} {r['pairwise_f1']:>7.4f} "
            f"{r['sessions_exact']:>7,} {r['split_rate']:>7.1%} {r['merge_rate']:>7.1%} "
            f"{pp(r['ctr_error']):>11} {pp(r['ctr_error_sessionizer']):>12} "
            f"{pp(r['ctr_error_data']):>7} {r['late_events']:>8,} "
            f"{format_duration(round(r['emission_delay_p99_s'])):>10}"
            + (" *" if r.get("pareto") else "")
        )
    return "\n".join(lines)
