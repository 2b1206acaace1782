"""Agent tests: the real Faust agents of stream.worker.app, run in-process by faust's test
context."""
