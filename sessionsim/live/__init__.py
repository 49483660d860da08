"""Live load generation: the run loop, pacing, stats, the sinks and the collector."""
