from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import MultiValueDict

from onboarding.images import MAX_INPUT_BYTES
from onboarding.models import PendingPhoto
from onboarding.uploads import CappedUploadHandler
from tests.applying import details, selfie_bytes
from tests.pages import text_of


def test_it_keeps_one_byte_more_than_a_photo_may_have_and_drops_the_rest():
    handler = CappedUploadHandler()
    handler.new_file("faceImage", "selfie.jpg", "image/jpeg", None)
    chunk = b"\0" * (1024 * 1024)
    received = 0
    for _ in range(40):
        handler.receive_data_chunk(chunk, received)
        received += len(chunk)

    upload = handler.file_complete(received)

    assert upload is not None
    upload.seek(0, 2)
    assert upload.tell() == MAX_INPUT_BYTES + 1
    upload.close()


def test_it_keeps_a_photo_within_the_limit_whole():
    handler = CappedUploadHandler()
    handler.new_file("faceImage", "selfie.jpg", "image/jpeg", None)
    handler.receive_data_chunk(b"\xff\xd8" + b"1" * 1000, 0)

    upload = handler.file_complete(1002)

    assert upload is not None
    upload.seek(0)
    assert upload.read() == b"\xff\xd8" + b"1" * 1000
    upload.close()


# What reaches the disk, parsed as Django parses a request ---------------------------

BOUNDARY = "uploadboundary"


def multipart(*files: tuple[str, bytes], **fields: str) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{value}\r\n".encode()
        for name, value in fields.items()
    ]
    parts += [
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{name}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + data
        + b"\r\n"
        for name, data in files
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class CountingStream(io.BytesIO):
    """A request body that remembers how much of it was read."""

    read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def parse(body: bytes) -> tuple[CountingStream, MultiValueDict]:
    meta = {
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(len(body)),
    }
    stream = CountingStream(body)
    parser = MultiPartParser(meta, stream, [CappedUploadHandler()])
    return stream, parser.parse()[1]


@pytest.fixture
def upload_dir(settings, tmp_path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def test_files_under_names_the_form_does_not_have_are_never_written(upload_dir):
    photo = b"\xff\xd8" + b"1" * 200_000
    body = multipart(("avatar", photo), ("faceImage", photo), fullName="Asep")

    _, files = parse(body)

    # The form's photo is on disk, the other file is not, anywhere.
    assert list(files) == ["faceImage"]
    written = list(upload_dir.iterdir())
    assert len(written) == 1
    assert written[0].stat().st_size == len(photo)
    files.getlist("faceImage")[0].close()


def test_more_files_than_the_form_has_are_refused_with_nothing_written(upload_dir):
    photo = b"\xff\xd8" + b"1" * 100_000
    body = multipart(*[(f"extra{n}", photo) for n in range(30)])

    with pytest.raises(TooManyFilesSent):
        parse(body)

    assert list(upload_dir.iterdir()) == []


def test_a_request_over_the_size_limit_is_refused_before_it_is_read(
    upload_dir, settings
):
    settings.UPLOAD_MAX_REQUEST_BYTES = 1_000_000
    body = multipart(("faceImage", b"\xff\xd8" + b"1" * 1_100_000))
    stream = CountingStream(body)
    meta = {
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(len(body)),
    }

    with pytest.raises(RequestDataTooBig):
        MultiPartParser(meta, stream, [CappedUploadHandler()]).parse()

    assert stream.read_bytes == 0
    assert list(upload_dir.iterdir()) == []


@pytest.mark.django_db
def test_the_form_sent_with_thirty_extra_files_is_a_clear_refusal(
    applicant, upload_dir
):
    extra = {
        f"extra{n}": SimpleUploadedFile(f"{n}.jpg", b"\xff\xd8" * 1000)
        for n in range(30)
    }

    response = applicant.post("/register/", details(**extra))

    assert response.status_code == 400
    assert "could not be read" in text_of(response)
    assert not PendingPhoto.objects.exists()
    assert list(upload_dir.iterdir()) == []


@pytest.mark.django_db
def test_a_selfie_sent_under_another_name_is_not_taken(applicant, upload_dir):
    selfie = SimpleUploadedFile("selfie.jpg", selfie_bytes(), "image/jpeg")

    response = applicant.post("/register/", details(faceImage=None, avatar=selfie))

    assert "Take a selfie" in text_of(response)
    assert list(PendingPhoto.objects.values_list("kind", flat=True)) == ["identity"]
