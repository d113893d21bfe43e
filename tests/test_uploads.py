from __future__ import annotations

from onboarding.images import MAX_INPUT_BYTES
from onboarding.uploads import CappedUploadHandler


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
