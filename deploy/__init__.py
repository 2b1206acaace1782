"""Deployment configuration generators (Prometheus target rules, Grafana dashboards).

Only the generators are Python; the files they write are committed and deployed as they are.
"""
