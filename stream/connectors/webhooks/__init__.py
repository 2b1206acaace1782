"""The webhook gateway: ``python -m stream connect webhooks`` (aiohttp).

One route per vendor source (``POST /webhooks/<name>``, ``source.WebhookSource``) and the generic
``POST /v1/events`` for contract events; every answer comes after the broker acknowledged the
events. ``docs/connectors/webhooks.md``.
"""
