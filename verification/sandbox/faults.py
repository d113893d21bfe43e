"""Misbehaviour on demand, for tests and load runs: latency, failures, downtime,
stalls and malformed answers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

FAILURE_STATUSES = (429, 500, 502, 503)


@dataclass(frozen=True, kw_only=True)
class Faults:
    """Misbehaviour on demand, for tests and load runs. All off by default.

    - `latency`: seconds added before every answer.
    - `failure_rate` (0..1): share of requests answered with `failure_status`,
      drawn from `random.Random(seed)` so that a run can be repeated.
    - `failure_status`: 500 (JSON with errorId and errorType), 502 (an HTML page,
      as a gateway in front of a dead upstream sends), 503 (JSON message), or 429
      (with a `Retry-After: retry_after` header).
    - `down_for_seconds` / `down_for_requests`: a downtime window; the requests in
      the first N seconds after the sandbox starts, or the first N requests, are
      answered with `failure_status`.
    - `stall`: seconds to sleep before answering (longer than the client's read
      timeout, to provoke one).
    - `malformed`: successful answers become a 200 whose body is not the
      documented JSON, cycling through MALFORMED_BODIES.
    """

    latency: float = 0.0
    failure_rate: float = 0.0
    failure_status: int = 500
    retry_after: int = 1
    down_for_seconds: float = 0.0
    down_for_requests: int = 0
    stall: float = 0.0
    malformed: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("latency", "down_for_seconds", "stall"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Sandbox fault {name} must be zero or more seconds.")
        if not 0 <= self.failure_rate <= 1:
            raise ValueError("Sandbox fault failure_rate must be between 0 and 1.")
        if self.failure_status not in FAILURE_STATUSES:
            raise ValueError(
                "Sandbox fault failure_status must be one of "
                + ", ".join(map(str, FAILURE_STATUSES))
                + "."
            )
        if self.retry_after < 0 or self.down_for_requests < 0:
            raise ValueError(
                "Sandbox faults retry_after and down_for_requests must not be negative."
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Faults:
        """Faults from a settings dict; unknown keys are an error, not ignored."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                "Unknown sandbox fault(s): "
                + ", ".join(unknown)
                + ". Known: "
                + ", ".join(sorted(known))
                + "."
            )
        return cls(**values)

    def describe(self) -> str:
        """The faults that are on, for a console line."""
        default = Faults()
        changed = [
            f"{field.name}={getattr(self, field.name)}"
            for field in fields(self)
            if getattr(self, field.name) != getattr(default, field.name)
        ]
        return ", ".join(changed) or "none"
