"""The OpenAPI 3.1 description of the integrator API, served at
/api/v1/openapi.json. tests/test_openapi.py checks that it is a valid document and
that what the API answers matches it."""

from __future__ import annotations

from typing import Any

from verification.integrations.models import VerificationSession

STATUSES = [str(value) for value in VerificationSession.Status.values]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    }


def document(*, server: str) -> dict[str, Any]:
    session_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "KTP onboarding: integrator API",
            "version": "1.0.0",
            "description": (
                "Start a verification for one of your customers, send them to its "
                "`url`, and learn the outcome from signed webhooks (Standard "
                "Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: "
                "v1,<base64 HMAC-SHA256 of id.timestamp.body>` with your key's "
                "`whsec_` secret) or by polling the session. Every error is JSON: "
                '`{"error": {"code", "message", "fields"}}`.'
            ),
        },
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/sessions": {
                "post": {
                    "operationId": "createSession",
                    "summary": "Start a verification session",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": (
                                "The same key within 24 hours returns the same "
                                "session (with `Idempotent-Replayed: true`); with "
                                "another body it is refused (422)."
                            ),
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 255,
                            },
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "$ref": "#/components/schemas/SessionRequest"
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "The session (new, or replayed for the "
                            "same Idempotency-Key).",
                            "headers": {
                                "Location": {"schema": {"type": "string"}},
                                "Idempotent-Replayed": {
                                    "schema": {"type": "string", "enum": ["true"]}
                                },
                            },
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "$ref": "#/components/schemas/SessionCreated"
                                    }
                                }
                            },
                        },
                        "400": _error(
                            "The body is not JSON, or fields are wrong (each one "
                            "named in `fields`)."
                        ),
                        "401": _error("No key, a wrong key or a revoked key."),
                        "413": _error("The body is over 16 KB."),
                        "422": _error(
                            "The Idempotency-Key was used with another body."
                        ),
                        "429": _error("Over the key's rate limit; see Retry-After."),
                    },
                }
            },
            "/api/v1/sessions/{id}": {
                "get": {
                    "operationId": "getSession",
                    "summary": "Where a session stands",
                    "parameters": [session_id],
                    "responses": {
                        "200": {
                            "description": "The session.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Session"}
                                }
                            },
                        },
                        "401": _error("No key, a wrong key or a revoked key."),
                        "404": _error("No such session for this key."),
                        "429": _error("Over the key's rate limit; see Retry-After."),
                    },
                }
            },
        },
        "webhooks": {
            "session.updated": {
                "post": {
                    "summary": "A session's status changed",
                    "description": (
                        "Posted to the key's webhook URL on every status change, "
                        "signed with the key's secret. Retried with exponential "
                        "backoff for a day until you answer 2xx; the webhook-id "
                        "stays the same, so deduplicate on it. Events may arrive "
                        "out of order: `data.updatedAt` orders them."
                    ),
                    "parameters": [
                        {
                            "name": name,
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                        for name in (
                            "webhook-id",
                            "webhook-timestamp",
                            "webhook-signature",
                        )
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Event"}
                            }
                        }
                    },
                    "responses": {"200": {"description": "Any 2xx: received."}},
                }
            }
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <key>` (keys start ktp_).",
                }
            },
            "schemas": {
                "SessionRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["externalReference"],
                    "properties": {
                        "externalReference": {
                            "type": "string",
                            "description": "Your own id for this customer or "
                            "case (no personal data).",
                            "pattern": "^[A-Za-z0-9._:/#-]{1,100}$",
                        },
                        "returnUrl": {
                            "type": "string",
                            "format": "uri",
                            "maxLength": 2000,
                            "description": "https (http only for localhost on the "
                            "embedded defaults). The status page offers “back to "
                            "<your key's name>”, linking here with "
                            "`?session=<id>`.",
                        },
                        "locale": {"type": "string", "enum": ["id", "en"]},
                        "prefill": {
                            "type": "object",
                            "additionalProperties": False,
                            "description": "Filled into the form for the "
                            "applicant to check; kept encrypted, and removed once "
                            "the application is sent or the session expires.",
                            "properties": {
                                "fullName": {"type": "string", "maxLength": 100},
                                "emailAddress": {
                                    "type": "string",
                                    "format": "email",
                                    "maxLength": 254,
                                },
                                "phoneNumber": {"type": "string", "maxLength": 30},
                            },
                        },
                    },
                },
                "SessionCreated": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", "url", "expiresAt"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "url": {
                            "type": "string",
                            "format": "uri",
                            "description": "Send the applicant here; treat it as "
                            "a secret (it opens the prefilled form).",
                        },
                        "expiresAt": {"type": "string", "format": "date-time"},
                    },
                },
                "Session": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [
                        "id",
                        "externalReference",
                        "status",
                        "rejectFields",
                        "referenceId",
                        "decision",
                        "updatedAt",
                    ],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "externalReference": {"type": "string"},
                        "status": {"type": "string", "enum": STATUSES},
                        "rejectFields": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "The provider's field names that did "
                            "not match (not_verified) or are shared with another "
                            "NIK (needs_review).",
                        },
                        "referenceId": {
                            "type": ["string", "null"],
                            "description": "The provider's reference id.",
                        },
                        "decision": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/Decision"},
                                {"type": "null"},
                            ]
                        },
                        "updatedAt": {"type": "string", "format": "date-time"},
                    },
                },
                "Decision": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["outcome", "reason", "decidedAt"],
                    "properties": {
                        "outcome": {
                            "type": "string",
                            "enum": ["approved", "rejected"],
                        },
                        "reason": {
                            "type": ["string", "null"],
                            "description": "The reviewer's reason code.",
                        },
                        "decidedAt": {"type": "string", "format": "date-time"},
                    },
                },
                "Event": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type", "timestamp", "data"],
                    "properties": {
                        "type": {"type": "string", "enum": ["session.updated"]},
                        "timestamp": {"type": "string", "format": "date-time"},
                        "data": {"$ref": "#/components/schemas/Session"},
                    },
                },
                "Error": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "fields": {
                                    "type": "object",
                                    "additionalProperties": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                    },
                                },
                            },
                        }
                    },
                },
            },
        },
    }
