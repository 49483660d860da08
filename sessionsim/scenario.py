"""The scenario as the harness reads it: the simulator's, plus the sessionizers to check."""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import Field, field_validator

from sessionizer import SessionConfig, Sessionizer, SessionizerError, resolve
from sessionsim.load_shape import LoadStage
from simulator import Duration, Model, PositiveDuration, Scenario

__all__ = ["RunScenario", "SessionizerSpec"]


class SessionizerSpec(Model):
    """One sessionizer setting to run and check."""

    sessionizer: str = "reference"
    label: str | None = None
    gap: PositiveDuration = "30m"
    lateness: Duration = "2m"  # covers an SDK flush interval (30 s) and the network
    split_on_app_open: bool = False
    close_on_app_close: bool = False
    attribution: Literal["time", "search_id"] = "time"
    dedup: bool = True
    watermark: Literal["global", "per_user"] = "global"  # docs/semantics.md section 3
    idle: Duration = "0s"  # per_user: how long past a quiet user's gap the stream waits
    options: dict[str, Any] = Field(default_factory=dict)  # the engine's own (e.g. workers)

    @field_validator("watermark", mode="before")
    @classmethod
    def _dash(cls, v: object) -> object:
        return v.replace("-", "_") if isinstance(v, str) else v

    @property
    def name(self) -> str:
        return self.label or self.sessionizer

    def build(self) -> Sessionizer:
        """Resolve the sessionizer and build it from the config and the engine's options."""
        factory = resolve(self.sessionizer)
        try:
            inspect.signature(factory).bind(self.config(), **self.options)
        except TypeError as e:
            raise SessionizerError(f"sessionizer {self.sessionizer!r}: options: {e}") from None
        except ValueError:  # no signature to check (a builtin): the call will tell
            pass
        try:
            sessionizer = factory(self.config(), **self.options)
        except SessionizerError:
            raise
        except Exception as e:  # the plugin's own code failed: its type and message
            message = " ".join(str(e).split()) or "(no message)"
            raise SessionizerError(
                f"sessionizer {self.sessionizer!r}: building it raised {type(e).__name__}: "
                f"{message}"
            ) from None
        if not (hasattr(sessionizer, "sessionize") or hasattr(sessionizer, "run")):
            raise SessionizerError(
                f"sessionizer {self.sessionizer!r}: {type(sessionizer).__name__} is not a "
                "sessionizer (it has neither sessionize(events) nor run(events, deliver))"
            )
        return sessionizer

    def takes(self, option: str) -> bool:
        """True when the sessionizer's factory accepts ``option`` (e.g. ``processes``)."""
        try:
            return option in inspect.signature(resolve(self.sessionizer)).parameters
        except ValueError:
            return False

    def config(self) -> SessionConfig:
        return SessionConfig(
            gap_ms=round(self.gap * 1000),
            lateness_ms=round(self.lateness * 1000),
            split_on_app_open=self.split_on_app_open,
            close_on_app_close=self.close_on_app_close,
            attribution=self.attribution,
            dedup=self.dedup,
            watermark=self.watermark,
            idle_ms=round(self.idle * 1000),
        )


class RunScenario(Scenario):
    """A scenario file: what to simulate and which sessionizers ``run`` checks."""

    sessionizers: list[SessionizerSpec] = Field(
        default_factory=lambda: [SessionizerSpec()], min_length=1
    )
    # A live run's shape over wall time (``stream --sink ... --realtime``).
    load: list[LoadStage] = Field(default_factory=list)
    # Thresholds ``KEY OP NUMBER`` over each report (``run``, ``check``) or the live
    # summary (``stream``), as ``--gate`` (sessionsim.gates).
    gates: list[str] = Field(default_factory=list)

    @field_validator("gates")
    @classmethod
    def _gates_parse(cls, v: list[str]) -> list[str]:
        from sessionsim.gates import parse_gate

        for text in v:
            try:
                parse_gate(text, "gate")
            except ValueError as e:  # SessionsimError: its message, under the field's name
                raise ValueError(str(e)) from None
        return v

    @field_validator("load")
    @classmethod
    def _stages_in_order(cls, v: list[LoadStage]) -> list[LoadStage]:
        if v and v[0].at != 0:
            raise ValueError("the first stage starts at 0s")
        if any(b.at < a.at + a.ramp for a, b in zip(v, v[1:])):
            raise ValueError("stages start in order, each after the previous one's ramp")
        return v

    @field_validator("sessionizers")
    @classmethod
    def _unique_labels(cls, v: list[SessionizerSpec]) -> list[SessionizerSpec]:
        names = [s.name for s in v]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two settings named {name!r}: give each a distinct label")
        return v
