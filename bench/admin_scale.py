"""The reviewer workspace at 1,000, 100,000 and 1,000,000 attempts, on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres scratch
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch \\
        uv run python bench/admin_scale.py [--sizes 1000,100000,1000000] [--runs 15]

THE DATABASE IS EMPTIED FIRST (its public schema dropped, then migrated): give it a
scratch database. It holds the largest size; each smaller size gets a database of
its own beside it (`<name>_1000`, `<name>_100000`), made and dropped by the run, so
that the sizes are measured in turns, a request at each, in the same minutes.

Each database is loaded in bulk with COPY: applicants; attempts over a history
that grows into the past at PER_DAY a day; their provider calls (failed ones
retried, liveness-only answers, duplicate purchases); decisions and photo views for
the decided cases; and a review queue of QUEUE cases at every size (a backlog is set
by the reviewers, not by the history; some of them past the SLA). Then, as a
reviewer of the "Compliance reviewers" group, it times every admin page and filter
(the median of --runs requests, after two to warm up), counts each page's database
queries, and runs EXPLAIN on every query a page makes: a sequential scan of a large
table is reported as a failure, so is a page at the largest size slower than 1.5x
its time at the smallest, or a page whose query count changed with the rows.

The time compared is the server's: this process's CPU time for the request plus
the database's time on its queries (the wall time is printed beside it). Both are
taken in turns over the sizes, so what else the machine does weighs on each alike.

Prints the table for the README and the load time; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUEUE = 150  # review cases waiting at every size
REVIEWERS = 5
PER_DAY = 2740  # a million attempts a year
# Shares of the attempts by status (cumulative). Chosen so that every list and
# filter fills its first page (100 rows) already at 1,000 attempts: at every size
# the pages render the same number of rows, and only the tables grow.
SHARES = [
    ("verified", 0.40),
    ("not_verified", 0.55),
    ("failed", 0.66),
    ("approved", 0.83),
]
# After the queue, BACKBONE attempts spread over the last BACKBONE_DAYS at every
# size, so that last month's ledger has calls already at 1,000 attempts.
BACKBONE = 300
BACKBONE_DAYS = 45
# One verified attempt in DUPLICATE_EVERY was bought twice (a late answer after a
# repeat): far more than in life, to fill the duplicate filter's page at 1,000.
DUPLICATE_EVERY = 4
SLOWDOWN_LIMIT = 1.5
LARGE_TABLE_ROWS = 50_000
CHUNK = 100_000  # attempts per COPY of a large batch
METRICS_TOKEN = secrets.token_urlsafe(16)
# Measured and shown, but not held to the admin's rule: the metrics' totals over
# every attempt and call are counted by design, once per METRICS_CACHE_SECONDS
# (which the bench turns off to show the cost of one count).
NOT_BOUNDED = {"metrics endpoint"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Give DATABASE_URL of a scratch PostgreSQL database.")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "onboarding.settings",
            "LOG_LEVEL": "WARNING",
            "METRICS_TOKEN": METRICS_TOKEN,
            # Every scrape counts afresh: the bench measures the cost, not the cache.
            "METRICS_CACHE_SECONDS": "0",
        }
    )
    import django

    django.setup()
    from django.db import connection

    base = connection.settings_dict["NAME"]
    databases = {size: f"{base}_{size}" for size in sizes[:-1]}
    databases[sizes[-1]] = base
    for database in databases.values():
        if database != base:
            recreate(database, via=base)
    loaders: dict[int, Loader] = {}
    load_seconds = 0.0
    now = datetime.now(UTC)
    for size, database in databases.items():
        use(database)
        empty_and_migrate()
        started = time.perf_counter()
        loaders[size] = Loader(now=now)
        loaders[size].grow_to(size)
        load_seconds = time.perf_counter() - started
        print(f"loaded {size:,} attempts into {database} ({load_seconds:.1f} s)")
    try:
        results = measure_pages(loaders, databases, runs=args.runs)
    finally:
        use(base)
        for database in databases.values():
            if database != base:
                drop(database)
    return report(sizes, results, load_seconds)


# One database per size, measured in turns ------------------------------------------

WRAPPERS: dict[str, Any] = {}


def use(database: str) -> None:
    """Make `database` the one every query goes to (a connection of its own, kept
    open: switching costs nothing)."""
    from django.db import connections

    wrapper = WRAPPERS.get(database)
    if wrapper is None:
        wrapper = connections.create_connection("default")
        wrapper.settings_dict = {**wrapper.settings_dict, "NAME": database}
        WRAPPERS[database] = wrapper
    connections["default"] = wrapper


def close_all() -> None:
    for wrapper in WRAPPERS.values():
        wrapper.close()


def recreate(database: str, *, via: str) -> None:
    from django.db import connection

    use(via)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')
        cursor.execute(f'CREATE DATABASE "{database}"')


def drop(database: str) -> None:
    from django.db import connection

    WRAPPERS.pop(database).close()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')


def empty_and_migrate() -> None:
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0)


# Loading ------------------------------------------------------------------------------


def copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value)
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def as_uuid(number: int) -> str:
    h = f"{number:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Table:
    """COPY rows into a model's table. Every concrete column is named: a row gives
    some as COPY text, the others take the field's default (rendered once), and a
    column with neither stops the load (the schema grew: give it a value here)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = model._meta.db_table
        self.columns = [field.column for field in model._meta.concrete_fields]
        self.defaults: dict[str, str] = {}
        for field in model._meta.concrete_fields:
            if field.has_default() or field.null or field.empty_strings_allowed:
                self.defaults[field.column] = copy_text(field.get_default())

    def copy(self, cursor: Any, rows: Iterator[dict[str, str]]) -> int:
        names = ", ".join(f'"{c}"' for c in self.columns)
        defaults, columns = self.defaults, self.columns
        count = 0
        with cursor.copy(f"COPY {self.name} ({names}) FROM STDIN") as copy:
            lines: list[str] = []
            for row in rows:
                try:
                    lines.append(
                        "\t".join(
                            [row[c] if c in row else defaults[c] for c in columns]
                        )
                    )
                except KeyError as missing:
                    raise SystemExit(
                        f"{self.name}.{missing}: no value and no default"
                    ) from None
                count += 1
                if len(lines) == 5000:
                    lines.append("")
                    copy.write("\n".join(lines))
                    lines = []
            if lines:
                lines.append("")
                copy.write("\n".join(lines))
        return count


class Unindexed:
    """While a large batch is copied in, the tables' indexes and foreign keys are
    dropped, then made again over the whole table in one pass each (the way a
    restore does it): far faster than keeping them up to date row by row. The
    foreign keys come back NOT VALID: the rows are ours, made to match them, and
    every row written afterwards is checked as usual."""

    def __init__(self, tables: list[str]) -> None:
        self.tables = tables
        self.constraints: list[tuple[str, str, str, str]] = []
        self.indexes: list[tuple[str, str]] = []

    def __enter__(self) -> Unindexed:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, contype, "
                "pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype IN ('u', 'f') AND conrelid::regclass::text = ANY(%s) "
                "ORDER BY contype DESC",
                [self.tables],
            )
            self.constraints = cursor.fetchall()
            for table, name, _, _ in reversed(self.constraints):
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
                "FROM pg_index i WHERE i.indrelid::regclass::text = ANY(%s) "
                "AND NOT i.indisprimary",
                [self.tables],
            )
            self.indexes = cursor.fetchall()
            for name, _ in self.indexes:
                cursor.execute(f"DROP INDEX {name}")
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '1GB'")
            for _, definition in self.indexes:
                cursor.execute(definition)
            # Unique constraints first (their indexes), then the foreign keys.
            for table, name, kind, definition in self.constraints:
                check = " NOT VALID" if kind == "f" else ""
                cursor.execute(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}{check}'
                )


def spread(n: int) -> float:
    """A fraction in [0, 1) that looks random but is the same for the same n."""
    digest = hashlib.blake2b(n.to_bytes(8, "little"), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


class Loader:
    """Grows one database: attempts 0..size-1, with what belongs to them."""

    def __init__(self, *, now: datetime) -> None:
        from django.conf import settings
        from django.contrib.auth.models import User

        from tests.reviewing import make_user, reviewers_group
        from verification import models

        self.m = models
        self.now = now
        self.size = 0
        self.status_of: list[str] = []
        self.created_of: list[datetime] = []
        self.key = settings.NIK_LOOKUP_KEY.encode()
        reviewers_group()
        self.reviewers: list[User] = [
            make_user(f"reviewer{n}", reviewer=True) for n in range(REVIEWERS)
        ]
        self.reviewer = self.reviewers[0]
        # Identity values are encrypted; a pool of real ciphertexts, reused, costs
        # what encrypting every row would cost to read and none of the time to make.
        attempt = models.Attempt
        self.pool = {
            "full_name": self._pool(attempt, "full_name", lambda i: f"NAMA UJI {i}"),
            "birth_date": self._pool(
                attempt, "birth_date", lambda i: date(1970 + i % 30, 1 + i % 12, 9)
            ),
            "email_address": self._pool(
                attempt, "email_address", lambda i: f"pemohon{i}@example.com"
            ),
            "phone_number": self._pool(
                attempt, "phone_number", lambda i: f"62812{i:08d}"
            ),
            "nik": self._pool(models.Applicant, "nik", lambda i: f"3171{i:012d}"),
        }
        self.tables = {
            name: Table(getattr(models, name))
            for name in (
                "Applicant",
                "Attempt",
                "ProviderCall",
                "ReviewDecision",
                "ImageAccess",
            )
        }

    @staticmethod
    def _pool(model: Any, name: str, value: Callable[[int], Any]) -> list[str]:
        field = model._meta.get_field(name)
        return [field.get_prep_value(value(i)) for i in range(64)]

    def digest(self, value: str, domain: str = "") -> str:
        return hmac.new(self.key, (domain + value).encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def nik(n: int) -> str:
        return f"3171{n:012d}"

    @staticmethod
    def email(n: int) -> str:
        # The review cases share their address with the applicant after them.
        return f"pemohon{n + QUEUE if n < QUEUE else n}@example.com"

    @staticmethod
    def provider_id(n: int, call: int = 0) -> str:
        return as_uuid((n << 8) + call + 1)

    @staticmethod
    def status(n: int) -> str:
        if n < QUEUE:
            return "needs_review"
        share = spread(n + 7)
        for status, upto in SHARES:
            if share < upto:
                return status
        return "rejected"

    def created(self, n: int) -> datetime:
        if n < QUEUE:
            # The queue: one case every 20 minutes over the last 50 hours.
            return self.now - timedelta(minutes=20 * (n + 1))
        if n < QUEUE + BACKBONE:
            return self.now - timedelta(days=BACKBONE_DAYS * (n - QUEUE) / BACKBONE)
        # PER_DAY attempts a day, the history growing into the past: every size
        # has the same recent days, and the larger ones more of the past.
        return self.now - timedelta(days=(n + spread(n)) / PER_DAY)

    def grow_to(self, size: int) -> None:
        """Add attempts up to `size`, with what belongs to them. A large batch is
        copied by two processes at once (the machine's two cores), a table's
        chunk each."""
        import multiprocessing

        from django.db import connection, connections

        start, self.size = self.size, size
        tables = [table.name for table in self.tables.values()]
        phases: list[tuple[str, float]] = []
        clock = time.perf_counter()

        def phase(what: str) -> None:
            nonlocal clock
            phases.append((what, time.perf_counter() - clock))
            clock = time.perf_counter()

        # Each attempt's status and time, worked out once for every table.
        self.status_of.extend(self.status(n) for n in range(start, size))
        self.created_of.extend(self.created(n) for n in range(start, size))
        chunks = [
            (name, low, min(low + CHUNK, size))
            for name in self.tables
            for low in range(start, size, CHUNK)
        ]
        bulk = size - start > 50_000
        with Unindexed(tables) if bulk else nullcontext():
            phase("rows worked out, indexes dropped")
            if bulk:
                # Children open their own connections; none may share the parent's.
                connections.close_all()
                close_all()
                global LOADER
                LOADER = self
                with multiprocessing.get_context("fork").Pool(2) as pool:
                    counts = pool.starmap(copy_chunk, chunks)
            else:
                counts = [self.copy_chunk(*chunk) for chunk in chunks]
            phase(f"{sum(counts):,} rows copied")
        phase("indexes and constraints")
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (our tables)
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")
        phase("vacuum and analyze")
        if bulk:
            print("  " + ", ".join(f"{what} {took:.1f} s" for what, took in phases))

    def copy_chunk(self, name: str, start: int, end: int) -> int:
        from django.db import connection

        rows = {
            "Applicant": self._applicants,
            "Attempt": self._attempts,
            "ProviderCall": self._calls,
            "ReviewDecision": self._decisions,
            "ImageAccess": self._views,
        }[name](range(start, end))
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            return self.tables[name].copy(cursor.cursor, rows)

    def _applicants(self, ids: range) -> Iterator[dict[str, str]]:
        niks = self.pool["nik"]
        for n in ids:
            nik = self.nik(n)
            yield {
                "id": str(n + 1),
                "code": as_uuid(n + 1),
                "nik": niks[n % 64],
                "nik_digest": self.digest(nik),
                "nik_masked": f"{nik[:6]}******{nik[-4:]}",
                "created_at": self.created_of[n].isoformat(),
            }

    def _attempts(self, ids: range) -> Iterator[dict[str, str]]:
        pool = self.pool
        review = ("needs_review", "approved", "rejected")
        for n in ids:
            status = self.status_of[n]
            created = self.created_of[n]
            at = created.isoformat()
            finished = (created + timedelta(seconds=4)).isoformat()
            answered = status != "failed"
            if status in review:
                reject = '["emailAddress"]'
            elif status == "not_verified":
                reject = '["liveness_check"]' if n % 5 == 0 else '["faceImage"]'
            else:
                reject = "[]"
            taken = status in review and (status != "needs_review" or n % 3 == 0)
            code = as_uuid(n + 1)
            provider = self.provider_id(n) if answered else ""
            row = {
                "id": str(n + 1),
                "code": code,
                "applicant_id": str(n + 1),
                "status": status,
                "full_name": pool["full_name"][n % 64],
                "birth_date": pool["birth_date"][n % 64],
                "email_address": pool["email_address"][n % 64],
                "phone_number": pool["phone_number"][n % 64],
                "email_digest": self.digest(self.email(n), "email\x00"),
                "phone_digest": self.digest(f"+62812{n:08d}", "phone\x00"),
                "face_image": f"attempts/{code}/face.jpg",
                "identity_image": f"attempts/{code}/identity.jpg",
                "consent_version": "2026-12-01",
                "consented_at": at,
                "provider_id": provider,
                "reference_id": f"ref_certel#{provider}" if answered else "",
                "reject_fields": reject,
                "created_at": at,
                "updated_at": finished,
                "finished_at": finished,
            }
            if not answered:
                row["failure"] = "provider_unavailable"
                row["tries"] = "3"
            else:
                row["tries"] = "1"
            if taken:
                row["assigned_to_id"] = str(self.reviewers[n % REVIEWERS].pk)
                row["assigned_at"] = (created + timedelta(hours=1)).isoformat()
            yield row

    def _calls(self, ids: range) -> Iterator[dict[str, str]]:
        review = ("needs_review", "approved", "rejected")
        for n in ids:
            status = self.status_of[n]
            created = self.created_of[n]
            call_id = n * 4
            if status == "failed":
                for attempt in range(3):
                    yield {
                        "id": str(call_id + attempt + 1),
                        "attempt_id": str(n + 1),
                        "started_at": (
                            created + timedelta(seconds=30 * attempt)
                        ).isoformat(),
                        "finished_at": (
                            created + timedelta(seconds=30 * attempt + 1)
                        ).isoformat(),
                        "duration_ms": "900",
                        "http_status": "503" if attempt < 2 else "\\N",
                        "outcome": "provider_error" if attempt < 2 else "read_timeout",
                        "charged": "no" if attempt < 2 else "unknown",
                    }
                continue
            outcome = "verified_with_reason" if status in review else status
            liveness = status == "not_verified" and n % 5 == 0
            answers = 2 if status == "verified" and n % DUPLICATE_EVERY == 0 else 1
            for answer in range(answers):
                provider = self.provider_id(n, answer)
                yield {
                    "id": str(call_id + answer + 1),
                    "attempt_id": str(n + 1),
                    "started_at": (
                        created + timedelta(seconds=90 * answer)
                    ).isoformat(),
                    "finished_at": (
                        created + timedelta(seconds=90 * answer + 3)
                    ).isoformat(),
                    "duration_ms": str(800 + n % 2000),
                    "http_status": "200",
                    "outcome": outcome,
                    "charged": "yes",
                    "liveness_only": "t" if liveness else "f",
                    "provider_id": provider,
                    "reference_id": f"ref_certel#{provider}",
                    "duplicate": "t" if answer else "f",
                    "answer": json.dumps(
                        {
                            "id": provider,
                            "status": outcome,
                            "rejectFields": ["liveness_check"] if liveness else [],
                            "referenceId": f"ref_certel#{provider}",
                        }
                    ),
                }

    def _decisions(self, ids: range) -> Iterator[dict[str, str]]:
        for n in ids:
            status = self.status_of[n]
            if status not in ("approved", "rejected"):
                continue
            reason = ""
            if status == "rejected":
                reason = "suspected_fraud" if n % 3 else "face_mismatch"
            yield {
                "id": str(n + 1),
                "attempt_id": str(n + 1),
                "reviewer_id": str(self.reviewers[n % REVIEWERS].pk),
                "decision": status,
                "reason": reason,
                "note": "Checked the linked applicant.",
                "decided_at": (self.created_of[n] + timedelta(hours=2)).isoformat(),
            }

    def _views(self, ids: range) -> Iterator[dict[str, str]]:
        for n in ids:
            if self.status_of[n] not in ("approved", "rejected"):
                continue
            for offset, image in enumerate(("face",)):
                yield {
                    "id": str(2 * n + offset + 1),
                    "user_id": str(self.reviewers[n % REVIEWERS].pk),
                    "attempt_id": str(n + 1),
                    "image": image,
                    "accessed_at": (
                        self.created_of[n] + timedelta(hours=1, seconds=offset)
                    ).isoformat(),
                }


LOADER: Loader | None = None


def copy_chunk(name: str, start: int, end: int) -> int:
    """In a child process: one chunk of one table, from the parent's loader."""
    assert LOADER is not None  # noqa: S101
    return LOADER.copy_chunk(name, start, end)


# Measuring ----------------------------------------------------------------------------


class Measure:
    """A page's medians: wall time; server time (this process's CPU time plus the
    database's time on its queries), which other work on a shared machine stretches
    far less; SQL time alone."""

    def __init__(
        self,
        times: list[float],
        server: list[float],
        sql: list[float],
        queries: int,
        scans: list[str],
    ) -> None:
        self.wall_ms = statistics.median(times) * 1000
        self.server_ms = statistics.median(server) * 1000
        self.sql_ms = statistics.median(sql) * 1000
        self.queries = queries
        self.scans = scans


def pages(loader: Loader) -> list[tuple[str, str]]:
    """(what, URL) for every page and filter a reviewer opens."""
    from django.urls import reverse
    from django.utils import timezone

    def admin(name: str, *args: object) -> str:
        return reverse(f"admin:verification_{name}", args=args)

    from urllib.parse import quote

    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    # As the admin's date filter writes them: aware, in the local time zone.
    today = quote(midnight.isoformat(sep=" "))
    tomorrow = quote((midnight + timedelta(days=1)).isoformat(sep=" "))
    week = quote((midnight - timedelta(days=7)).isoformat(sep=" "))
    attempts = admin("attempt_changelist")
    queue = admin("reviewcase_changelist")
    decisions = admin("reviewdecision_changelist")
    calls = admin("providercall_changelist")
    yesterday = timezone.localdate() - timedelta(days=1)
    last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(
        day=1
    )
    return [
        ("attempt list", attempts),
        ("attempt list, page 5", f"{attempts}?p=5"),
        ("attempt list: status verified", f"{attempts}?status__exact=verified"),
        ("attempt list: status needs review", f"{attempts}?status__exact=needs_review"),
        ("attempt list: review waiting", f"{attempts}?review=waiting"),
        ("attempt list: taken by me", f"{attempts}?review=mine"),
        ("attempt list: decided", f"{attempts}?review=decided"),
        ("attempt list: duplicate purchase", f"{attempts}?duplicate=yes"),
        (
            "attempt list: submitted today",
            f"{attempts}?created_at__gte={today}&created_at__lt={tomorrow}",
        ),
        ("attempt list: past 7 days", f"{attempts}?created_at__gte={week}"),
        ("review queue", queue),
        ("review queue: not taken", f"{queue}?assigned=waiting"),
        ("review queue: mine", f"{queue}?assigned=mine"),
        ("search by NIK", "search:" + loader.nik(QUEUE + 17)),
        ("search by email", "search:" + loader.email(QUEUE + 18)),
        (
            "search by provider id (prefix)",
            "search:" + loader.provider_id(QUEUE + 19)[:13],
        ),
        ("admin index (dashboard)", reverse("admin:index")),
        ("attempt page", admin("attempt_change", 1)),
        ("decision list", decisions),
        ("decision list: rejected", f"{decisions}?decision__exact=rejected"),
        ("decision list: reason", f"{decisions}?reason__exact=suspected_fraud"),
        ("decision list: past 7 days", f"{decisions}?decided_at__gte={week}"),
        ("applicant list", admin("applicant_changelist")),
        ("attempt list: past the SLA", f"{attempts}?sla=overdue"),
        ("review queue: past the SLA", f"{queue}?sla=overdue"),
        ("review queue: for a second reviewer", f"{queue}?assigned=check"),
        ("cost ledger (this month)", calls),
        ("cost ledger: last month", f"{calls}?month={last_month:%Y-%m}"),
        ("cost ledger: yesterday", f"{calls}?day={yesterday}"),
        ("cost ledger: charged unknown", f"{calls}?charged__exact=unknown"),
        ("cost ledger: not verified", f"{calls}?outcome__exact=not_verified"),
        ("cost ledger: paid twice", f"{calls}?duplicate__exact=1"),
        ("metrics endpoint", "/metrics"),
    ]


def measure_pages(
    loaders: dict[int, Loader], databases: dict[int, str], *, runs: int
) -> dict[int, dict[str, Measure]]:
    """Every page at every size, in turns (a request at each size, then the next
    run): whatever else the machine is doing weighs on all sizes alike."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clients = {}
    for size, database in databases.items():
        use(database)
        clients[size] = Client(
            headers={
                "accept-language": "en",
                "authorization": f"Bearer {METRICS_TOKEN}",
            }
        )
        clients[size].force_login(loaders[size].reviewer)
    attempts = "/admin/verification/attempt/"
    samples: dict[int, dict[str, tuple[list, list, list]]] = {s: {} for s in databases}
    queries: dict[int, dict[str, list]] = {s: {} for s in databases}
    smallest = min(loaders)
    for what, url in pages(loaders[smallest]):
        urls = {}
        for size, database in databases.items():
            urls[size] = url
            if url.startswith("search:"):
                use(database)
                term = url.removeprefix("search:")
                sealed = clients[size].post(attempts, {"q": term})
                if sealed.status_code != 302:
                    raise SystemExit(
                        f"{what}: the search answered {sealed.status_code}"
                    )
                urls[size] = sealed["Location"]
            samples[size][what] = ([], [], [])
        for run in range(runs + 2):
            for size, database in databases.items():
                use(database)
                started, cpu = time.perf_counter(), time.process_time()
                with CaptureQueriesContext(connection) as captured:
                    response = clients[size].get(urls[size])
                took, used = time.perf_counter() - started, time.process_time() - cpu
                if response.status_code != 200:
                    raise SystemExit(
                        f"{what}: HTTP {response.status_code} for {urls[size]}"
                    )
                if run >= 2:
                    in_sql = sum(float(q["time"]) for q in captured.captured_queries)
                    times, server, sql = samples[size][what]
                    times.append(took)
                    sql.append(in_sql)
                    server.append(used + in_sql)
                queries[size][what] = captured.captured_queries
    results: dict[int, dict[str, Measure]] = {}
    for size, database in databases.items():
        use(database)
        results[size] = {}
        for what, (times, server, sql) in samples[size].items():
            found = queries[size][what]
            results[size][what] = Measure(
                times, server, sql, len(found), explain(found)
            )
    return results


def explain(queries: list[dict[str, str]]) -> list[str]:
    """Every sequential scan of a large table in these queries' plans."""
    from django.db import connection

    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' "
            "AND relname LIKE 'verification_%%'"
        )
        sizes = dict(cursor.fetchall())
        for query in queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            for node in walk(plan[0]["Plan"]):
                table = node.get("Relation Name", "")
                if (
                    node["Node Type"] == "Seq Scan"
                    and sizes.get(table, 0) > LARGE_TABLE_ROWS
                ):
                    found.append(f"seq scan on {table}: {sql[:160]}")
    return found


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def report(
    sizes: list[int], results: dict[int, dict[str, Measure]], load: float
) -> int:
    small, large = sizes[0], sizes[-1]
    header = " | ".join(f"{size:,}" for size in sizes)
    print()
    print("Server time (CPU + SQL), median; wall time in brackets.")
    print()
    print(f"| page | {header} | {large:,} / {small:,} | queries | SQL at {large:,} |")
    print("| --- |" + " --- |" * len(sizes) + " --- | --- | --- |")
    failures = []
    for what in results[small]:
        measures = [results[size][what] for size in sizes]
        ratio = measures[-1].server_ms / measures[0].server_ms
        counts = sorted({m.queries for m in measures})
        cells = " | ".join(
            f"{m.server_ms:,.1f} ({m.wall_ms:,.0f}) ms" for m in measures
        )
        count_text = " / ".join(str(c) for c in counts)
        sql = measures[-1].sql_ms
        print(f"| {what} | {cells} | {ratio:.2f}x | {count_text} | {sql:,.1f} ms |")
        if what in NOT_BOUNDED:
            continue
        if ratio > SLOWDOWN_LIMIT:
            failures.append(f"{what}: {ratio:.2f}x slower at {large:,}")
        if len(counts) > 1:
            failures.append(f"{what}: query count changed with rows ({count_text})")
        for size in sizes:
            failures.extend(
                f"{what} at {size:,}: {s}" for s in results[size][what].scans
            )
    print()
    print(f"Loaded {large:,} attempts with COPY in {load:.1f} s (its own database).")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
