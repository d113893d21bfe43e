"""Per-key rate limits, shared by every web host: a counter per key, bucket and
fixed window in the database, counted up with one UPDATE.

- `requests`: every authenticated request, API_REQUESTS_PER_MINUTE a minute;
- `sessions`: sessions created, API_SESSIONS_PER_HOUR an hour (each may lead to a
  paid provider call).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from verification.integrations.models import ApiKey, RateWindow


@dataclass(frozen=True)
class Bucket:
    name: str
    seconds: int
    setting: str

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.setting))


REQUESTS = Bucket("requests", 60, "API_REQUESTS_PER_MINUTE")
SESSIONS = Bucket("sessions", 3600, "API_SESSIONS_PER_HOUR")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window ends


def window_start(bucket: Bucket, now: datetime) -> datetime:
    epoch = math.floor(now.timestamp() / bucket.seconds) * bucket.seconds
    return datetime.fromtimestamp(epoch, tz=now.tzinfo)


def peek(api_key: ApiKey, bucket: Bucket, *, now: datetime | None = None) -> Verdict:
    """Whether one more request would be within the limit, without counting it."""
    now = now or timezone.now()
    start = window_start(bucket, now)
    used = (
        RateWindow.objects.filter(
            api_key=api_key, bucket=bucket.name, window_start=start
        )
        .values_list("count", flat=True)
        .first()
        or 0
    )
    return _verdict(bucket, used + 1, start, now)


def hit(api_key: ApiKey, bucket: Bucket, *, now: datetime | None = None) -> Verdict:
    """Count one request in the current window; whether it is within the limit."""
    now = now or timezone.now()
    start = window_start(bucket, now)
    rows = RateWindow.objects.filter(
        api_key=api_key, bucket=bucket.name, window_start=start
    )
    if not rows.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                RateWindow.objects.create(
                    api_key=api_key, bucket=bucket.name, window_start=start, count=1
                )
        except IntegrityError:
            rows.update(count=F("count") + 1)
        else:
            # A new window: the key's old ones are of no use any more.
            RateWindow.objects.filter(
                api_key=api_key,
                bucket=bucket.name,
                window_start__lt=start - timedelta(seconds=bucket.seconds),
            ).delete()
    used = rows.values_list("count", flat=True).first() or 0
    return _verdict(bucket, used, start, now)


def _verdict(bucket: Bucket, used: int, start: datetime, now: datetime) -> Verdict:
    limit = bucket.limit
    ends = start + timedelta(seconds=bucket.seconds)
    return Verdict(
        allowed=used <= limit,
        limit=limit,
        remaining=max(0, limit - used),
        retry_after=max(1, math.ceil((ends - now).total_seconds())),
    )
