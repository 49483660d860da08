"""The sessionizer contract: event and session records, the config, the protocol."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from sessionizer.errors import SessionizerError

__all__ = [
    "APP_CLOSE",
    "APP_OPEN",
    "CLICK",
    "EVENT_TYPES",
    "RESULTS",
    "SEARCH",
    "Counts",
    "Event",
    "Late",
    "Session",
    "SessionConfig",
    "Sessionizer",
    "SessionizerFactory",
    "cuts_before",
]

# The event types of the schema (docs/semantics.md section 1), named once for the package.
APP_OPEN, SEARCH, RESULTS, CLICK, APP_CLOSE = "app_open", "search", "results", "click", "app_close"
EVENT_TYPES = (APP_OPEN, SEARCH, RESULTS, CLICK, APP_CLOSE)

Attribution = Literal["time", "search_id"]
Watermark = Literal["global", "per_user"]


class Event(NamedTuple):
    """One event as a sessionizer sees it (docs/semantics.md section 1); ``ts`` in epoch ms."""

    event_id: str
    type: str
    user_id: str
    ts: int
    search_id: str | None = None
    items: int | None = None  # on ``results``: how many items were shown
    position: int | None = None  # on ``click``: the 1-based rank clicked


@dataclass(slots=True)
class Session:
    """A final session: its user, first and last event time (ms) and events in order."""

    user_id: str
    start: int
    end: int
    events: list[Event]

    @property
    def session_id(self) -> str:
        """Return the deterministic id of docs/semantics.md section 2, from user and start."""
        return f"{self.user_id}@{self.start}"


class Late(NamedTuple):
    """An event that arrived behind the watermark, with the reason."""

    event: Event
    reason: str


@dataclass(slots=True)
class Counts:
    """What a sessionizer did with its input: accepted + late + duplicates = input."""

    accepted: int = 0
    late: int = 0
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How to cut sessions (docs/semantics.md sections 2 to 4); durations in milliseconds."""

    gap_ms: int
    lateness_ms: int = 0
    split_on_app_open: bool = False
    close_on_app_close: bool = False
    attribution: Attribution = "time"
    dedup: bool = True
    watermark: Watermark = "global"  # docs/semantics.md section 3: one for the stream, or per user
    idle_ms: int = 0  # per_user: a quiet user's sessions are final once W_g > end + gap + idle

    @property
    def per_user(self) -> bool:
        return self.watermark == "per_user"

    def __post_init__(self) -> None:
        if not isinstance(self.gap_ms, int) or self.gap_ms <= 0:
            raise SessionizerError(f"gap: expected a positive duration (got {self.gap_ms!r} ms)")
        if not isinstance(self.lateness_ms, int) or self.lateness_ms < 0:
            raise SessionizerError(
                f"lateness: expected a duration >= 0 (got {self.lateness_ms!r} ms)"
            )
        if self.watermark not in ("global", "per_user"):
            raise SessionizerError(
                f"watermark: expected 'global' or 'per_user' (got {self.watermark!r})"
            )
        if not isinstance(self.idle_ms, int) or self.idle_ms < 0:
            raise SessionizerError(f"idle: expected a duration >= 0 (got {self.idle_ms!r} ms)")
        if self.attribution not in ("time", "search_id"):
            raise SessionizerError(
                f"attribution: expected 'time' or 'search_id' (got {self.attribution!r})"
            )


@runtime_checkable
class Sessionizer(Protocol):
    """Anything that turns events in arrival order into final sessions.

    ``sessionize`` must work on an unbounded iterator: it yields each ``Session`` once the
    watermark makes it final (and every open one at end of input) and each ``Late`` event
    as it is rejected. Nothing else is asked of it: the harness derives what it did with
    its input (``Counts``) from the stream it read and emitted (``sessionizer.Outputs``).

    An engine that owns its run loop (Bytewax does) may offer instead a blocking
    ``run(events, deliver)`` that pulls events as it wants them and hands each batch of
    results to ``deliver`` (see ``sessionizer.runloop``): it need not buffer its input.
    """

    def sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]: ...


class SessionizerFactory(Protocol):
    """What the registry resolves a name to: builds a sessionizer from a setting."""

    def __call__(self, config: SessionConfig) -> Sessionizer: ...


def cuts_before(config: SessionConfig, prev: Event, e: Event) -> bool:
    """True when a session cut falls between ``prev`` and ``e`` (in ts order): a gap over
    ``gap_ms``, or a marker the config asks for (docs/semantics.md section 2). The
    streaming engines share it; ``batch_sessions`` states it again, independently."""
    return (
        e.ts - prev.ts > config.gap_ms
        or (config.split_on_app_open and e.type == APP_OPEN)
        or (config.close_on_app_close and prev.type == APP_CLOSE)
    )
