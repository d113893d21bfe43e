"""Reading what is at rest as an auditor would: every row of every table, the
sessions decoded, the SQLite file itself, and every stored file."""

from __future__ import annotations

import io
from pathlib import Path

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from PIL import Image, UnidentifiedImageError


def database_text() -> str:
    """Every value of every row of every table, as text, and every session's
    contents decoded."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    parts.append(str(value))
        cursor.execute("SELECT session_data FROM django_session")
        for (data,) in cursor.fetchall():
            parts.append(repr(SessionStore().decode(data)))
    return "\n".join(parts)


def database_file_bytes() -> bytes:
    """SQLite only: the database file and its write-ahead log, byte for byte."""
    name = settings.DATABASES["default"]["NAME"]
    return b"".join(
        Path(path).read_bytes()
        for path in (name, name + "-wal")
        if Path(path).is_file()
    )


def plain_values_found(text: str, values: list[str]) -> list[str]:
    folded = text.casefold()
    return [value for value in values if value.casefold() in folded]


def decodable_images(files: dict[str, bytes]) -> list[str]:
    """The stored files that an image decoder can open."""
    found = []
    for name, data in files.items():
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        except (UnidentifiedImageError, OSError, ValueError):
            continue
        found.append(name)
    return found


def local_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }
