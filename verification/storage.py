"""Private storage for identity photos, encrypted by us before anything is written.

`EncryptedFileSystemStorage` (the embedded default: a private directory under
DATA_DIR) and `EncryptedS3Storage` (any S3-compatible bucket, through django-storages
and boto3) encrypt every file with verification.crypto on save and decrypt it on
open, so `FieldFile.open()` gives plain bytes to the code that asks for them (the
permission-checked views and the worker) and the disk, the bucket and their backups
hold only ciphertext that no image decoder can read. Neither has a URL: asking for one
raises, so no public or pre-signed address of a photo can reach a browser.
"""

from __future__ import annotations

import io
import os
import secrets
from typing import Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible
from storages.backends.s3 import S3Storage

from verification import crypto

NO_URL = (
    "Identity photos have no URL: they are served only by the permission-checked "
    "views, which read them through the storage."
)


class DecryptedFile(File):
    """A stored file's plain bytes, in memory (photos are at most a few MB). Opening
    it again after closing reads it from storage again."""

    def __init__(self, storage: EncryptedStorageMixin, name: str) -> None:
        self._storage = storage
        super().__init__(io.BytesIO(storage.read_plain(name)), name=name)

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> DecryptedFile:
        if self.closed:
            self.file = io.BytesIO(self._storage.read_plain(self.name or ""))
        else:
            self.seek(0)
        return self


class EncryptedStorageMixin:
    """Encrypts on save, decrypts on open; no URLs. Opening raises
    crypto.Undecryptable (a ValueError) for a file the keys cannot decrypt."""

    def read_stored(self, name: str) -> bytes:
        """The file as stored: ciphertext (or, for a file written before encryption
        came in, the plain photo)."""
        with super()._open(name, "rb") as handle:  # type: ignore[misc]
            return handle.read()

    def read_plain(self, name: str) -> bytes:
        return crypto.decrypt_bytes(self.read_stored(name))

    def rewrite(self, name: str, plain: bytes) -> None:
        """Store `plain` again under `name`, encrypted with the current key,
        replacing what is there in one step."""
        raise NotImplementedError

    def _open(self, name: str, mode: str = "rb") -> File:
        if set(mode) - set("rb"):
            raise ValueError("Encrypted files are opened for reading only.")
        return DecryptedFile(self, name)

    def _save(self, name: str, content: File) -> str:
        if hasattr(content, "seek"):
            content.seek(0)
        plain = b"".join(
            chunk if isinstance(chunk, bytes) else chunk.encode()
            for chunk in content.chunks()
        )
        sealed = ContentFile(crypto.encrypt_bytes(plain), name=content.name)
        return super()._save(name, sealed)  # type: ignore[misc]

    def size(self, name: str) -> int:
        """The plain file's size (encryption adds a fixed number of bytes)."""
        return max(0, super().size(name) - crypto.FILE_OVERHEAD)  # type: ignore[misc]

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        raise ValueError(NO_URL)


@deconstructible(path="verification.storage.EncryptedFileSystemStorage")
class EncryptedFileSystemStorage(EncryptedStorageMixin, FileSystemStorage):
    def rewrite(self, name: str, plain: bytes) -> None:
        path = self.path(name)
        temporary = f"{path}.{secrets.token_hex(6)}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(crypto.encrypt_bytes(plain))
                handle.flush()
                os.fsync(handle.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


@deconstructible(path="verification.storage.EncryptedS3Storage")
class EncryptedS3Storage(EncryptedStorageMixin, S3Storage):
    """A private bucket: objects are written without an ACL (they inherit the
    bucket's, which must block public access) as opaque bytes."""

    def get_object_parameters(self, name: str) -> dict:
        return {
            **super().get_object_parameters(name),
            "ContentType": "application/octet-stream",
        }

    def rewrite(self, name: str, plain: bytes) -> None:
        # An S3 PUT replaces the object whole: readers see the old or the new one.
        S3Storage._save(self, name, ContentFile(crypto.encrypt_bytes(plain)))
