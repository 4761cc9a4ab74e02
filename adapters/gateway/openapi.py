"""The gateway's OpenAPI 3.1 document, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from adapters.gateway.config import FAMILIES

MAX_RECORDS = 1000
"""Most records one request may carry."""


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _retry_after(description: str) -> dict[str, Any]:
    return {
        **_error(description),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before sending the same request again.",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    """Return the document; it describes exactly the routes ``adapters.gateway.app`` serves."""
    record = {
        "type": "object",
        "description": (
            "One record as the department system exports it: keys are its own column "
            "names, mapped by the sender's profile for the family."
        ),
        "additionalProperties": True,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "zwbus push gateway",
            "version": "1",
            "description": (
                "Department systems push case, review, hall and data-sharing records. "
                "Each record gets exactly one outcome; sending a record again yields no "
                "second event."
            ),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Zw-Signature",
                    "description": (
                        "Hex HMAC-SHA256 of '<X-Zw-Timestamp>\\n<METHOD>\\n<path>\\n"
                        "<hex SHA-256 of the body>' under the sender's secret."
                    ),
                },
            },
            "schemas": {
                "Record": record,
                "Reason": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {
                        "code": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "value": {"type": ["string", "null"]},
                        "detail": {
                            "type": ["string", "null"],
                            "description": "The check's finding in English, kept stable.",
                        },
                        "message": {
                            "type": "string",
                            "description": (
                                "The rule's message and fix with the values filled in, in "
                                "the gateway's screen language (Simplified Chinese unless "
                                "it runs with --lang en)."
                            ),
                        },
                    },
                },
                "Outcome": {
                    "type": "object",
                    "required": ["outcome"],
                    "properties": {
                        "outcome": {
                            "enum": ["stored", "duplicate", "quarantined", "parked"],
                        },
                        "event_id": {"type": "string"},
                        "seq": {
                            "type": "integer",
                            "description": (
                                "Stream sequence of the stored event; for a duplicate, of "
                                "the event stored before, when known."
                            ),
                        },
                        "reasons": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Reason"},
                        },
                        "waiting_for": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Answer": {
                    "type": "object",
                    "required": ["results", "totals"],
                    "properties": {
                        "results": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Outcome"},
                        },
                        "totals": {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "rejected": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
        "security": [{"bearer": []}, {"signature": []}],
        "paths": {
            "/v1/records/{family}": {
                "post": {
                    "summary": "Send one record or a batch of records of one family.",
                    "parameters": [
                        {
                            "name": "family",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": list(FAMILIES)},
                        },
                        {
                            "name": "X-Zw-Client",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Record"},
                                        {
                                            "type": "array",
                                            "maxItems": MAX_RECORDS,
                                            "items": {"$ref": "#/components/schemas/Record"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The outcome of every record, in request order.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Answer"}
                                }
                            },
                        },
                        "400": _error("The body is not a record or a list of records."),
                        "401": _error("The sender is unknown or its credentials do not hold."),
                        "403": _error(
                            "A record lies outside the sender's regions or departments; "
                            "nothing of the request was taken."
                        ),
                        "404": _error("The sender has no profile for this family."),
                        "413": _error("The request carries too many records."),
                        "429": _retry_after("The sender exceeded its rate."),
                        "503": _retry_after("The bus is behind or unreachable."),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Whether the gateway is connected to the bus, and its load.",
                    "security": [],
                    "responses": {
                        "200": {"description": "Connected."},
                        "503": {"description": "Not connected to the bus."},
                    },
                }
            },
        },
    }
