"""Connectors: what real systems emit (a PBX's log, a vendor's callbacks) as contract events.

Each connector is a translator (pure: one vendor record and a little state in, contract event
dicts out), a transport (a followed file, an HTTP server) and the shared ``publish.Publisher``.
Every connector has its own ``/metrics`` (``metrics.ConnectorMetrics``). The shape and the
promises are in ``docs/connectors/README.md``.
"""
