"""Grafana dashboards as code (grafana-foundation-sdk), generated into ``dashboards/json/``.

``python -m dashboards`` writes the JSON; ``python -m dashboards --check`` fails when the
committed JSON differs from what the code generates.
"""
