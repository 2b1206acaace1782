"""Unit tests: pure, fast (< 2 s in total)."""
