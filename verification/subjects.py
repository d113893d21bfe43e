"""Data-subject requests (UU PDP Art. 32-33, 43): export everything held about a
person, or erase it, on request; each answered request is recorded.

- `export_archive` writes one ZIP: `data.json` (the applicant, every attempt with what
  was sent, the provider's answers and every call, the decisions, who viewed the
  photos and when, earlier requests), the photos themselves, decrypted, and a short
  README in both languages.
- `erase` removes the person's identity data and photos (verification.redaction),
  blanks the reviewers' free text about them through the one redaction append-only
  records allow, deletes their drafts, and keeps the minimal audit record and the
  fact of the erasure. It waits for attempts still with the provider, up to a
  deadline, or refuses and says why; it refuses while a reviewer's decision is due.

Both are offered as management commands and as admin actions, each behind its own
permission. Neither logs identity data.
"""

from __future__ import annotations

import json
import logging
import re
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta
from typing import IO, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from verification import redaction
from verification.lookups import nik_digest
from verification.models import (
    Applicant,
    Attempt,
    DataSubjectRequest,
    ImageAccess,
    ReviewDecision,
    ReviewProposal,
)

logger = logging.getLogger(__name__)

Status = Attempt.Status
EXPORT_PERMISSION = "verification.export_subject_data"
ERASE_PERMISSION = "verification.erase_subject_data"
WAIT_POLL_SECONDS = 2.0

ARCHIVE_README = """\
Salinan data pribadi / Copy of personal data

ID: Arsip ini berisi semua data yang kami simpan tentang Anda untuk verifikasi
identitas: data.json (data yang Anda kirim, jawaban penyedia verifikasi, keputusan
peninjau, siapa yang melihat foto Anda dan kapan) dan foto-foto Anda (folder photos).

EN: This archive holds everything we keep about you for identity verification:
data.json (what you sent, the verification provider's answers, the reviewers'
decisions, who viewed your photos and when) and your photos (folder photos).
"""


class ErasureRefused(Exception):
    """The erasure cannot be done now; the message says why (in the operator's
    language) and what to do."""


def find_applicant(nik: str) -> Applicant | None:
    """The applicant with this NIK (spaces and dashes ignored), found through its
    blind index; None when nothing is held (or it was already erased)."""
    digits = re.sub(r"[\s\-.]", "", nik)
    return Applicant.objects.filter(nik_digest=nik_digest(digits)).first()


def _who(performed_by: AbstractBaseUser | None, name: str) -> dict[str, Any]:
    return {
        "performed_by": performed_by,
        "performed_by_name": (performed_by.get_username() if performed_by else name)[
            :150
        ],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


# Export -------------------------------------------------------------------------------


def subject_data(applicant: Applicant) -> dict[str, Any]:
    """Everything held about the applicant, as plain data (photos by archive path)."""
    attempts = (
        Attempt.objects.filter(applicant=applicant)
        .order_by("created_at", "pk")
        .prefetch_related("calls")
    )
    decisions = ReviewDecision.objects.filter(attempt__applicant=applicant)
    views = ImageAccess.objects.filter(attempt__applicant=applicant).select_related(
        "user"
    )
    steps_by_attempt: dict[int, list] = {}
    proposals = ReviewProposal.objects.filter(attempt__applicant=applicant)
    for proposal in proposals.select_related(
        "reviewer", "review_check__reviewer"
    ).order_by("proposed_at", "pk"):
        check = getattr(proposal, "review_check", None)
        steps_by_attempt.setdefault(proposal.attempt_id, []).append(
            {
                "decision": proposal.decision,
                "reason": proposal.reason,
                "decided_at": _iso(proposal.proposed_at),
                "reviewer": proposal.reviewer.get_username(),
                "internal_note": proposal.note,
                "second_reviewer": check.reviewer.get_username() if check else None,
                "verdict": check.verdict if check else None,
                "second_reviewer_note": check.note if check else None,
                "checked_at": _iso(check.checked_at) if check else None,
            }
        )
    decisions_by_attempt: dict[int, list] = {}
    for decision in decisions.select_related("reviewer").order_by("decided_at"):
        decisions_by_attempt.setdefault(decision.attempt_id, []).append(
            {
                "decision": decision.decision,
                "reason": decision.reason,
                "decided_at": _iso(decision.decided_at),
                "reviewer": decision.reviewer.get_username(),
                "message_to_you": decision.applicant_message,
                "internal_note": decision.note,
                "redacted_at": _iso(decision.redacted_at),
            }
        )
    views_by_attempt: dict[int, list] = {}
    for view in views.order_by("accessed_at"):
        views_by_attempt.setdefault(view.attempt_id, []).append(
            {
                "viewed_by": view.user.get_username(),
                "photo": view.image,
                "viewed_at": _iso(view.accessed_at),
            }
        )
    return {
        "applicant": {
            "code": str(applicant.code),
            "nik": applicant.nik,
            "masked_nik": applicant.masked_nik,
            "first_seen": _iso(applicant.created_at),
            "identity_data_removed_at": _iso(applicant.redacted_at),
        },
        "attempts": [
            {
                "code": str(attempt.code),
                "submitted_at": _iso(attempt.created_at),
                "status": attempt.status,
                "full_name": attempt.full_name,
                "birth_date": _iso(attempt.birth_date),
                "email_address": attempt.email_address,
                "phone_number": attempt.phone_number,
                "language": attempt.language,
                "privacy_notice_version": attempt.consent_version,
                "consented_at": _iso(attempt.consented_at),
                "birth_date_confirmed": attempt.birth_date_confirmed,
                "provider_answer": {
                    "id": attempt.provider_id,
                    "reference_id": attempt.reference_id,
                    "reject_fields": attempt.reject_fields,
                    "error_id": attempt.error_id,
                    "failure": attempt.failure,
                    "field_messages": attempt.provider_field_errors,
                },
                "finished_at": _iso(attempt.finished_at),
                "provider_calls": [
                    {
                        "started_at": _iso(call.started_at),
                        "duration_ms": call.duration_ms,
                        "http_status": call.http_status,
                        "outcome": call.outcome,
                        "charged": call.charged,
                    }
                    for call in attempt.calls.all()
                ],
                "decisions": decisions_by_attempt.get(attempt.pk, []),
                "four_eyes_steps": steps_by_attempt.get(attempt.pk, []),
                "photo_views": views_by_attempt.get(attempt.pk, []),
                "photos": {
                    kind: _photo_path(attempt, kind) if stored.name else None
                    for kind, stored in (
                        ("face", attempt.face_image),
                        ("identity", attempt.identity_image),
                    )
                },
                "photos_deleted_at": _iso(attempt.photos_deleted_at),
                "identity_data_removed_at": _iso(attempt.redacted_at),
            }
            for attempt in attempts
        ],
        "requests": [
            {
                "request": request.kind,
                "reference": request.reference,
                "performed_at": _iso(request.performed_at),
            }
            for request in applicant.subject_requests.order_by("performed_at")
        ],
    }


def _photo_path(attempt: Attempt, kind: str) -> str:
    return f"photos/{attempt.code}/{kind}.jpg"


def export_archive(
    target: IO[bytes],
    *,
    applicant: Applicant,
    reference: str,
    performed_by: AbstractBaseUser | None = None,
    performed_by_name: str = "",
) -> DataSubjectRequest:
    """Write the applicant's archive to `target` and record the export."""
    data = subject_data(applicant)
    data["generated_at"] = timezone.now().isoformat()
    data["request_reference"] = reference
    photos = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", ARCHIVE_README)
        archive.writestr(
            "data.json", json.dumps(data, ensure_ascii=False, indent=2, default=str)
        )
        for attempt in Attempt.objects.filter(applicant=applicant):
            for kind, stored in (
                ("face", attempt.face_image),
                ("identity", attempt.identity_image),
            ):
                if not stored.name:
                    continue
                try:
                    with stored.open("rb") as handle:
                        content = handle.read()
                except (FileNotFoundError, ValueError) as error:
                    logger.warning(
                        "Export: attempt %s's %s photo cannot be read (%s).",
                        attempt.code,
                        kind,
                        type(error).__name__,
                    )
                    continue
                # Stored as they are: JPEGs do not shrink.
                archive.writestr(
                    _photo_path(attempt, kind), content, zipfile.ZIP_STORED
                )
                photos += 1
    record = DataSubjectRequest.objects.create(
        kind=DataSubjectRequest.Kind.EXPORT,
        applicant=applicant,
        masked_nik=applicant.masked_nik,
        reference=reference[:200],
        counts={"attempts": len(data["attempts"]), "photos": photos},
        **_who(performed_by, performed_by_name),
    )
    logger.info("Data-subject export %s recorded.", record.code)
    return record


# Erasure ------------------------------------------------------------------------------


def _in_flight(applicant: Applicant) -> int:
    return applicant.attempts.filter(status__in=Attempt.IN_PROGRESS).count()


def _refusal(applicant: Applicant) -> str | None:
    in_flight = _in_flight(applicant)
    if in_flight:
        return ngettext(
            "%(count)d attempt is still being verified by the provider; erasing it "
            "now would waste a paid answer. Try again when it has finished, or wait "
            "for it.",
            "%(count)d attempts are still being verified by the provider; erasing "
            "them now would waste paid answers. Try again when they have finished, "
            "or wait for them.",
            in_flight,
        ) % {"count": in_flight}
    waiting = applicant.attempts.filter(status=Status.NEEDS_REVIEW).count()
    if waiting:
        return ngettext(
            "%(count)d attempt is waiting for a reviewer's decision; decide it "
            "first (rejecting it if the person withdrew).",
            "%(count)d attempts are waiting for a reviewer's decision; decide them "
            "first (rejecting them if the person withdrew).",
            waiting,
        ) % {"count": waiting}
    return None


def erase(
    *,
    applicant: Applicant,
    reference: str,
    performed_by: AbstractBaseUser | None = None,
    performed_by_name: str = "",
    wait: timedelta = timedelta(0),
    sleep: Callable[[float], None] = time.sleep,
) -> DataSubjectRequest:
    """Erase the applicant's data and record it. Waits up to `wait` for attempts
    still with the provider (asking `sleep` between looks); raises ErasureRefused
    when some are still in flight after that, or wait for a reviewer's decision.
    Safe to run again after a failure: what was removed stays removed."""
    deadline = time.monotonic() + wait.total_seconds()
    while _in_flight(applicant) and time.monotonic() < deadline:
        sleep(WAIT_POLL_SECONDS)
    with transaction.atomic():
        Applicant.objects.select_for_update().filter(pk=applicant.pk).first()
        refusal = _refusal(applicant)
        if refusal:
            raise ErasureRefused(refusal)
        # From here no attempt of theirs can be sent again ("try again" needs the
        # photos), so nothing can go back to the provider while this runs.
        now = timezone.now()
        applicant.attempts.filter(photos_deleted_at__isnull=True).update(
            photos_deleted_at=now, updated_at=now
        )
    attempts = list(applicant.attempts.order_by("pk"))
    photos = decisions = 0
    for attempt in attempts:
        removed, redacted = redaction.redact_attempt(attempt)
        photos += removed
        decisions += redacted
    drafts = _erase_drafts(applicant, attempts)
    with transaction.atomic():
        masked = Applicant.objects.get(pk=applicant.pk).masked_nik
        redaction.redact_applicant(applicant)
        record = DataSubjectRequest.objects.create(
            kind=DataSubjectRequest.Kind.ERASURE,
            applicant=applicant,
            masked_nik=masked,
            reference=reference[:200],
            counts={
                "attempts": len(attempts),
                "photos": photos,
                "decisions": decisions,
                "drafts": drafts,
            },
            **_who(performed_by, performed_by_name),
        )
    logger.info("Data-subject erasure %s recorded.", record.code)
    return record


def _erase_drafts(applicant: Applicant, attempts: list[Attempt]) -> int:
    """The person's unsent drafts: photos kept for the browsers their attempts came
    from, and hand-offs whose typed NIK is theirs (kept a day at most, so reading
    them all is cheap)."""
    from django.apps import apps

    if not apps.is_installed("onboarding"):
        return 0
    # The drafts belong to the applicant-facing app; it is reached through the
    # registry, never imported.
    pending_photo = apps.get_model("onboarding", "PendingPhoto")
    handoff = apps.get_model("onboarding", "Handoff")
    removed = 0
    browsers = {attempt.browser for attempt in attempts if attempt.browser}
    for photo in pending_photo.objects.filter(browser__in=browsers):
        photo.discard()
        removed += 1
    nik = applicant.nik
    if nik:
        for draft in handoff.objects.all().iterator():
            typed = re.sub(r"\D", "", str(draft.values.get("identityId", "")))
            if typed == nik:
                draft.delete()
                removed += 1
    return removed


MESSAGES = {
    "no_applicant": _("Nothing is held about this NIK (or it was already erased)."),
}
