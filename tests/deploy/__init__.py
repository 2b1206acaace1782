"""Tests of the deployment files: Prometheus rules, Alertmanager, Grafana, docker-compose."""
