"""sessionsim inside other tools: the pytest plugin and a Bytewax source."""
