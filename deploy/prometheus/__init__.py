"""Prometheus configuration: scrape config, recording and alert rules, their unit tests."""
