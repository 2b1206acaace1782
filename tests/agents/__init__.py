"""Agent tests: the real Faust agents of stream.app, run in-process by faust's test context."""
