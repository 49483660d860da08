"""The harness: the ``sessionsim`` command, wiring the simulator to the sessionizers."""

__all__: list[str] = []
