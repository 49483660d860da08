"""The check's report (``report.json``, docs/semantics.md section 5): a typed record, with
its gates."""

from __future__ import annotations

import math

import msgspec

from sessionsim.errors import GateFailed, SessionsimError

__all__ = ["RealismVerdict", "Report"]


class RealismVerdict(msgspec.Struct, frozen=True):
    """One realism metric in a report: its value, its band, and ok / OUT / n/a."""

    value: float | None
    band: list[float | None]
    verdict: str


class Report(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """What a check measured, for one sessionizer setting (None where the sessionizer, or a
    sessions file made elsewhere, cannot say). The setting's durations are text (``30m``)."""

    sessionizer: str | None
    label: str | None
    gap: str | None
    lateness: str | None
    split_on_app_open: bool | None
    close_on_app_close: bool | None
    attribution: str | None
    dedup: bool | None
    watermark: str | None
    idle: str | None
    ctr_true: float | None
    ctr_observable: float | None
    ctr_measured: float | None
    ctr_error: float | None  # measured - true (behavioural)
    ctr_abs_error: float | None
    ctr_error_sessionizer: float | None  # measured - observable: the sessionizer's part
    ctr_error_data: float | None  # observable - true: the delivery's part
    ctr_measured_ci95: list[float] | None
    events: int | None
    searches_true: int
    searches_measured: int
    clicked_searches_measured: int
    clicks_measured: int
    clicks_per_search_true: float | None
    clicks_per_search_measured: float | None
    sessions_true: int
    sessions_found: int
    sessions_exact: int
    splits: int
    merges: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    unknown_events: int
    repeated_events: int
    unplaced_events: int
    ctr_by_position: dict[str, float] | None
    ctr_per_bucket: dict[str, float] | None
    accepted: int | None
    late_events: int | None
    duplicates: int | None
    realism: dict[str, RealismVerdict] | None = None  # absent from the JSON when not measured

    def to_dict(self) -> dict:
        """The report as ``report.json`` holds it."""
        return msgspec.to_builtins(self)

    def encode(self) -> bytes:
        """``report.json``'s bytes: indented JSON, fields in declared order."""
        import orjson

        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"

    def gate(
        self, max_ctr_error: float | None = None, min_pairwise_f1: float | None = None
    ) -> Report:
        """Raise ``GateFailed`` naming each gate missed; return the report otherwise. A gate
        must be a number from 0 to 1 (a NaN gate would pass everything): else
        ``SessionsimError``."""
        for name, value in (("max_ctr_error", max_ctr_error), ("min_pairwise_f1", min_pairwise_f1)):
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1
            ):
                raise SessionsimError(f"{name}: expected a number from 0 to 1 (got {value!r})")
        failed = self.failures(max_ctr_error, min_pairwise_f1)
        if failed:
            raise GateFailed(f"{self.label}: " + "; ".join(failed))
        return self

    def failures(self, max_ctr_error: float | None, min_f1: float | None) -> list[str]:
        """A line for each of the two shorthand gates the report misses."""
        failed = []
        err = self.ctr_abs_error
        if max_ctr_error is not None and (err is None or err > max_ctr_error):
            failed.append(f"ctr_abs_error {err} > --max-ctr-error {max_ctr_error}")
        if min_f1 is not None and self.pairwise_f1 < min_f1:
            failed.append(f"pairwise_f1 {self.pairwise_f1:.4f} < --min-pairwise-f1 {min_f1}")
        return failed
