"""Log lines as JSON (LOG_FORMAT=json), one object a line, for log collectors.

Each line has `time` (UTC, ISO 8601), `level`, `logger`, `message`, `attempt` (the
attempt's random code when the line is about one) and, for an error, `exc_info`.
Nothing else: whatever a caller attaches to a record (Django attaches the request
to its own lines) stays out, so a line carries what the plain format would, and
our messages carry attempt codes, never identity data.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# The code in our lines about an attempt ("Attempt 1f0c...: verified.").
ATTEMPT_CODE = re.compile(
    r"\battempt ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
    re.IGNORECASE,
)
FIELDS = ("time", "level", "logger", "message", "attempt", "exc_info")


def attempt_code(record: logging.LogRecord) -> str | None:
    given = getattr(record, "attempt", None)
    if given:
        return str(given)
    found = ATTEMPT_CODE.search(record.getMessage())
    return found.group(1) if found else None


class JsonLines(JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def add_fields(
        self,
        log_data: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["attempt"] = attempt_code(record)
        for key in list(log_data):
            if key not in FIELDS:
                del log_data[key]
