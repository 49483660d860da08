"""Event type codes and the device's time step: what the kernel, the SDK and the ledger share."""

__all__ = ["APP_CLOSE", "APP_OPEN", "CLICK", "EVENT_TYPES", "MIN_STEP_S", "RESULTS", "SEARCH"]

# Event type codes, and the names they stand for (the event schema's ``type``).
APP_OPEN, SEARCH, RESULTS, CLICK, APP_CLOSE = range(5)
EVENT_TYPES = ("app_open", "search", "results", "click", "app_close")

# Two events of one device are at least this far apart, so their millisecond stamps differ
# and sorting a device's events by time never ties (a search and its results included).
MIN_STEP_S = 0.002
