"""Grafana provisioning and the dashboards, generated with grafana-foundation-sdk."""
