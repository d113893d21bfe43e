"""Uploads are kept only as far as they can be useful."""

from __future__ import annotations

from django.core.files.uploadhandler import TemporaryFileUploadHandler

from onboarding.images import MAX_INPUT_BYTES


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Writes at most one byte more than a photo may have (MAX_INPUT_BYTES) of each
    uploaded file, and drops the rest as it streams in. A huge upload cannot fill the
    disk, and the photo check still sees that the file was too large and says so
    beside the field, keeping everything else the applicant sent."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.kept = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        room = MAX_INPUT_BYTES + 1 - self.kept
        if room > 0:
            self.kept += min(room, len(raw_data))
            super().receive_data_chunk(raw_data[:room], start)
