"""Integration tests: the real embedded broker (and Redis, a browser), started by the tests."""
