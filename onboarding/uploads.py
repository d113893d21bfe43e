"""Uploads are kept only as far as they can be useful."""

from __future__ import annotations

from functools import cache

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler

from onboarding.images import MAX_INPUT_BYTES


@cache
def accepted_file_fields() -> frozenset[str]:
    """The names under which a file may be sent: the registration form's photo
    fields, the only file fields the site has."""
    from onboarding.forms import RegistrationForm

    return frozenset(
        name
        for name, field in RegistrationForm.base_fields.items()
        if isinstance(field, forms.FileField)
    )


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Writes at most one byte more than a photo may have (MAX_INPUT_BYTES) of each
    uploaded file, and drops the rest as it streams in. A huge upload cannot fill the
    disk, and the photo check still sees that the file was too large and says so
    beside the field, keeping everything else the applicant sent.

    Before any of it is read, a request larger than UPLOAD_MAX_REQUEST_BYTES in all
    is refused (400); a file under a name no form has is skipped unwritten, and
    more than DATA_UPLOAD_MAX_NUMBER_FILES (UPLOAD_MAX_FILES) file parts are
    refused by Django (400)."""

    def handle_raw_input(
        self, input_data, META, content_length, boundary, encoding=None
    ):
        if content_length > settings.UPLOAD_MAX_REQUEST_BYTES:
            raise RequestDataTooBig(
                "The request is larger than settings.UPLOAD_MAX_REQUEST_BYTES."
            )
        return super().handle_raw_input(
            input_data, META, content_length, boundary, encoding
        )

    def new_file(self, field_name: str, *args, **kwargs) -> None:
        # Checked before the temporary file is made: nothing is written for it.
        if field_name not in accepted_file_fields():
            # Django closes the handler's `file` on a skip: let go of the one
            # before, which is complete and the form's.
            self.__dict__.pop("file", None)
            raise SkipFile
        super().new_file(field_name, *args, **kwargs)
        self.kept = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        room = MAX_INPUT_BYTES + 1 - self.kept
        if room > 0:
            self.kept += min(room, len(raw_data))
            super().receive_data_chunk(raw_data[:room], start)
