"""Sessionizers: turn an event stream into sessions and CTR metrics (SESSIONS.md)."""

__all__: list[str] = []
