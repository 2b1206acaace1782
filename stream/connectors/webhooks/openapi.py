"""The gateway's OpenAPI 3.1 document: what ``GET /openapi.json`` serves.

The checked-in copy is ``docs/connectors/webhooks.openapi.json``; a test keeps it equal to what
the gateway serves. Regenerate it with ``python -m stream.connectors.webhooks.openapi >
docs/connectors/webhooks.openapi.json``. The contract events themselves are described by the
JSON Schemas in ``docs/schemas/`` (``docs/events.md``); here an event is an object with at
least ``type``, ``event_id`` and ``occurred_at``.
"""

from __future__ import annotations

import json
from typing import Any, Final

VERSION: Final = "1"


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _unavailable() -> dict[str, Any]:
    return {
        **_error("The broker did not acknowledge (or the gateway is stopping): send it again."),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
    }


def document() -> dict[str, Any]:
    """The OpenAPI document of the gateway (no configuration in it: routes are templates)."""
    event = {
        "type": "object",
        "required": ["type", "event_id", "occurred_at"],
        "properties": {
            "type": {"type": "string", "examples": ["ticket.created"]},
            "event_id": {"type": "string", "minLength": 1, "maxLength": 128},
            "occurred_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": True,
        "description": "A contract event (docs/events.md, docs/schemas/).",
    }
    common = {
        "408": _error("The body was not sent within the gateway's body timeout."),
        "413": _error("The body is larger than the gateway's limit."),
        "503": _unavailable(),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Contact-centre KPI webhook gateway",
            "version": VERSION,
            "description": (
                "Vendor webhooks (one route per configured source) and contract events from "
                "any system. Every 2xx answer comes after the broker acknowledged the events. "
                "docs/connectors/webhooks.md."
            ),
        },
        "paths": {
            "/webhooks/{source}": {
                "post": {
                    "operationId": "vendorWebhook",
                    "summary": "A vendor's webhook delivery (Chatwoot, Zendesk, Zammad, ...).",
                    "description": (
                        "Verified the way the vendor signs it (headers such as "
                        "X-Chatwoot-Signature and X-Chatwoot-Timestamp, "
                        "X-Zendesk-Webhook-Signature, X-Hub-Signature)."
                    ),
                    "parameters": [
                        {
                            "name": "source",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "The source's name in the gateway config.",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "Published (or deliberately ignored).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/VendorAnswer"}
                                }
                            },
                        },
                        "400": _error("The body cannot be translated (kept as a dead letter)."),
                        "401": _error("The signature is missing."),
                        "403": _error("The signature is wrong or its timestamp too old."),
                        "404": _error("No source of that name is configured."),
                        **common,
                    },
                }
            },
            "/v1/events": {
                "post": {
                    "operationId": "postEvents",
                    "summary": "Contract events: a JSON array, or NDJSON (one per line).",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": event}},
                            "application/x-ndjson": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Each line accepted (published) or rejected (kept "
                            "as a dead letter with the decoder's reason).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/GenericAnswer"}
                                }
                            },
                        },
                        "400": _error("The body is empty, or not a JSON array (nor NDJSON)."),
                        "401": _error("No bearer token."),
                        "403": _error("A wrong bearer token."),
                        "404": _error("The generic route is not configured."),
                        **common,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics of the gateway.",
                    "responses": {"200": {"description": "Prometheus text exposition."}},
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness.",
                    "responses": {"200": {"description": "The gateway is serving."}},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                },
                "VendorAnswer": {
                    "type": "object",
                    "properties": {
                        "accepted": {"type": "integer", "description": "Events made."},
                        "sent": {"type": "integer", "description": "Events not sent before."},
                        "ignored": {"type": "string", "description": "The vendor event kind."},
                    },
                },
                "GenericAnswer": {
                    "type": "object",
                    "required": ["accepted", "rejected", "results"],
                    "properties": {
                        "accepted": {"type": "integer"},
                        "rejected": {"type": "integer"},
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["line", "status"],
                                "properties": {
                                    "line": {"type": "integer"},
                                    "status": {"enum": ["accepted", "rejected"]},
                                    "event_id": {"type": "string"},
                                    "reason": {"type": "string"},
                                    "detail": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    }


def render() -> str:
    """The document as checked in: indented JSON, sorted keys, a final newline."""
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
