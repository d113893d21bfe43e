"""The compliance reviewers' workspace in Django admin.

- Attempts: every submission, read-only for everyone (submitted data and provider
  answers are evidence); masked NIKs in lists; search by reference id, provider id,
  email, phone and exact NIK (through its keyed digest).
- Review queue (`ReviewCase`): the `needs_review` attempts, oldest first, with who
  holds each one.
- The attempt page: both photos side by side (served by `image_view`, which checks
  verification.view_identity_images and records every view), the provider's answer,
  the applicants sharing the email or phone, the applicant's history, and the
  decision form for a case waiting for a decision.
- Review decisions and image accesses: append-only; nobody adds, changes or deletes
  them here. Decisions export to CSV.
- Applicants: the data-subject actions (export everything held as an archive, erase),
  each behind its own permission and recorded; the requests and the retention runs
  are listed read-only.
"""

from __future__ import annotations

import copy
import csv
import itertools
import logging
import secrets
import tempfile
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TypedDict, cast
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote

# django-stubs does not declare IS_FACETS_VAR (Django 5.0+).
from django.contrib.admin.views.main import IS_FACETS_VAR, SEARCH_VAR, ChangeList  # type: ignore[attr-defined]
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from verification import crypto, ledger, reviews, subjects
from verification.forms import CheckForm, DecisionForm, SubjectRequestForm
from verification.models import (
    Applicant,
    Attempt,
    CallTotals,
    DataSubjectRequest,
    ImageAccess,
    KeyRotation,
    ProviderCall,
    RetentionRun,
    ReviewCase,
    ReviewCheck,
    ReviewDecision,
    ReviewProposal,
)
from verification.paging import BoundedPaginator

logger = logging.getLogger(__name__)
if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise, WithAnnotations

    class _DecidedBy(TypedDict):
        decided_by: str | None

    class _AttemptCount(TypedDict):
        attempt_count: int


Status = Attempt.Status

# The product's name where Django would say "Django administration".
admin.site.site_header = _("e-Certificate onboarding: reviewer workspace")
admin.site.site_title = _("e-Certificate onboarding")
admin.site.index_title = _("Reviewer workspace")

# What a reviewer reads for each photo quality warning the applicant overrode
# (the codes of onboarding.quality, which this app does not import).
PHOTO_WARNING_LABELS = {
    "no_face": _("Selfie: no face was found"),
    "several_faces": _("Selfie: more than one face was found"),
    "glare": _("KTP photo: glare"),
}


def photo_warning_labels(codes: list[str]) -> list[str]:
    return [str(PHOTO_WARNING_LABELS.get(code, code)) for code in codes]


# The photo names in image URLs, and the attempt field each one serves.
IMAGE_FIELDS: dict[str, str] = {
    ImageAccess.Image.FACE: "face_image",
    ImageAccess.Image.IDENTITY: "identity_image",
}


def reviewer(request: HttpRequest) -> User:
    """The logged-in user behind an admin view (the admin site lets nobody else
    reach one)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def age(since: datetime) -> str:
    return timesince(since, depth=2)


def attempt_url(attempt_id: int) -> str:
    return reverse("admin:verification_attempt_change", args=[attempt_id])


def report_unreadable(request: HttpRequest, record: Attempt) -> None:
    """Say on the record's page which of its values the keys cannot decrypt: the
    page still works, and the rest of the record is shown."""
    names = record.unreadable_fields() + [
        f"applicant {name}" for name in record.applicant.unreadable_fields()
    ]
    if names:
        messages.warning(
            request,
            _(
                "Some of this record's identity data cannot be decrypted with the "
                "configured keys: %(fields)s. Run `manage.py rotate_encryption_keys "
                "--report` and tell an operator."
            )
            % {"fields": ", ".join(names)},
        )


# Filters ------------------------------------------------------------------------------


class ReviewStateFilter(admin.SimpleListFilter):
    title = _("review state")
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [
            ("waiting", _("Waiting, nobody has it")),
            ("taken", _("Taken by a reviewer")),
            ("mine", _("Taken by me")),
            ("decided", _("Decided")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        waiting = queryset.filter(status=Status.NEEDS_REVIEW)
        match self.value():
            case "waiting":
                return waiting.filter(assigned_to__isnull=True)
            case "taken":
                return waiting.filter(assigned_to__isnull=False)
            case "mine":
                return waiting.filter(assigned_to=request.user)
            case "decided":
                return queryset.filter(status__in=(Status.APPROVED, Status.REJECTED))
        return None


class AssignmentFilter(ReviewStateFilter):
    title = _("assignment")
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [
            *super().lookups(request, model_admin)[:3],
            ("check", _("Waiting for a second reviewer")),
            ("to_check", _("For me to confirm")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        awaiting = queryset.filter(
            status=Status.NEEDS_REVIEW, pending_proposal__isnull=False
        )
        match self.value():
            case "check":
                return awaiting
            case "to_check":
                return awaiting.exclude(pending_proposal__reviewer=request.user)
        return super().queryset(request, queryset)


class SLAFilter(admin.SimpleListFilter):
    """Cases past the review SLA (REVIEW_SLA_HOURS since they entered the queue)."""

    title = _("review SLA")
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [("overdue", _("Overdue")), ("within", _("Within the SLA"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        match self.value():
            case "overdue":
                return queryset.filter(reviews.overdue())
            case "within":
                cutoff = timezone.now() - reviews.sla()
                return queryset.filter(
                    status=Status.NEEDS_REVIEW, finished_at__gte=cutoff
                )
        return None


class DuplicatePurchaseFilter(admin.SimpleListFilter):
    """Attempts for which the provider was paid twice (a late answer after a
    repeat): what to look at when reconciling with the provider's invoice."""

    title = _("duplicate purchase")
    parameter_name = "duplicate"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [("yes", _("Paid more than once"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() == "yes":
            paid_twice = ProviderCall.objects.filter(duplicate=True)
            return queryset.filter(pk__in=paid_twice.values("attempt_id"))
        return None


# Shared behaviour ---------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes through this admin, superusers included:
    what it shows is evidence or an audit record. Its lists never count a whole
    table (verification.paging)."""

    paginator = BoundedPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


SEALED_SEARCH_VAR = "s"
SEALED_SEARCHES = "admin_sealed_searches"
SEALED_SEARCHES_KEPT = 20


class AttemptChangeList(ChangeList):
    """Attempt lists load no encrypted column they do not show: each one would be
    decrypted for every row."""

    LIST_DEFERRED = ("birth_date", "email_address", "phone_number", "applicant__nik")

    def get_queryset(self, request: HttpRequest, exclude_parameters=None) -> QuerySet:
        queryset = super().get_queryset(request, exclude_parameters)
        if self.model_admin.model._meta.concrete_model is Attempt:
            queryset = queryset.defer(*self.LIST_DEFERRED)
        return queryset


class SealedSearchChangeList(AttemptChangeList):
    """A change list whose links carry the sealed key, never the search term."""

    def __init__(self, request: HttpRequest, *args, **kwargs) -> None:
        super().__init__(request, *args, **kwargs)
        sealed = getattr(request, "sealed_search", None)
        self.sealed_kinds = reviews.sealed_kinds(sealed) if sealed is not None else None
        key = getattr(request, "sealed_search_key", None)
        if key:
            for params in (self.params, self.filter_params):
                params.pop(SEARCH_VAR, None)
            self.params[SEALED_SEARCH_VAR] = key
            self.filter_params[SEALED_SEARCH_VAR] = [key]
            self.remove_facet_link = self.get_query_string(remove=[IS_FACETS_VAR])
            self.add_facet_link = self.get_query_string({IS_FACETS_VAR: True})

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(SEALED_SEARCH_VAR, None)
        return lookup_params


class SealedSearch(admin.ModelAdmin):
    """Search terms may be a NIK, an email address or a phone number, so none may
    reach a URL (nor the browser history and access logs that keep URLs), nor the
    session table. A search from the search box is reduced to what it compares
    (reviews.seal_search: blind-index digests, or a provider's id) and kept in the
    reviewer's session under a random key; the list's URL, its links and the pages it
    opens carry only that key."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method == "POST" and SEARCH_VAR in request.POST:
            if "action" not in request.POST:  # the search box, not an action
                return self._seal(request, request.POST)
        elif SEARCH_VAR in request.GET:  # a search typed into the address bar
            return self._seal(request, request.GET)
        self.unseal(request)
        return super().changelist_view(request, extra_context)

    def unseal(self, request: HttpRequest) -> None:
        """Put the sealed search named in the URL (its key) on the request, where
        the change list and get_search_results find it."""
        key = request.GET.get(SEALED_SEARCH_VAR)
        if key is None:
            return
        sealed = request.session.get(SEALED_SEARCHES, {}).get(key)
        query = request.GET.copy()
        del query[SEALED_SEARCH_VAR]
        if isinstance(sealed, dict):
            # Only a provider's id is shown back in the box; nothing else is kept.
            query[SEARCH_VAR] = sealed.get("id") or ""
            request.sealed_search = sealed  # type: ignore[attr-defined]
            # Read back by get_preserved_filters, for the links it makes.
            request.sealed_search_key = key  # type: ignore[attr-defined]
        # The changelist reads its parameters from request.GET.
        request.GET = query  # type: ignore[assignment]

    def _seal(self, request: HttpRequest, data) -> HttpResponseRedirect:
        params = data.copy()
        term = params.pop(SEARCH_VAR)[-1]
        for name in (SEALED_SEARCH_VAR, "csrfmiddlewaretoken"):
            params.pop(name, None)
        if term.strip():
            key = secrets.token_urlsafe(9)
            searches = request.session.get(SEALED_SEARCHES, {})
            kept = list(searches.items())[-(SEALED_SEARCHES_KEPT - 1) :]
            sealed = reviews.seal_search(term)
            request.session[SEALED_SEARCHES] = {**dict(kept), key: sealed}
            params[SEALED_SEARCH_VAR] = key
        return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")

    def get_changelist(self, request: HttpRequest, **kwargs):
        return SealedSearchChangeList

    def get_preserved_filters(self, request: HttpRequest) -> str:
        preserved = super().get_preserved_filters(request)
        key = getattr(request, "sealed_search_key", None)
        if not preserved:
            return preserved
        filters = dict(parse_qsl(preserved)).get("_changelist_filters", "")
        kept = [(k, v) for k, v in parse_qsl(filters) if k != SEARCH_VAR]
        if key:
            kept.append((SEALED_SEARCH_VAR, key))
        return urlencode({"_changelist_filters": urlencode(kept)}) if kept else ""


class AttemptColumns:
    """List columns shared by the attempt list and the review queue."""

    @admin.display(description=_("NIK"))
    def masked_nik(self, attempt: Attempt) -> str:
        return attempt.applicant.masked_nik

    @admin.display(description=_("rejected fields"))
    def rejected_fields(self, attempt: Attempt) -> str:
        return ", ".join(reviews.reject_field_labels(attempt.reject_fields)) or "—"

    @admin.display(description=_("age"), ordering="created_at")
    def age(self, attempt: Attempt) -> str:
        return age(attempt.created_at)

    @admin.display(description=_("taken by"), ordering="assigned_to")
    def taken_by(self, attempt: Attempt) -> str:
        return attempt.assigned_to.get_username() if attempt.assigned_to else "—"


# Attempts -----------------------------------------------------------------------------


@admin.register(Attempt)
class AttemptAdmin(SealedSearch, AttemptColumns, ReadOnlyAdmin):
    list_display = (
        "masked_nik",
        "full_name",
        "status",
        "rejected_fields",
        "review_state",
        "created_at",
        "age",
    )
    list_display_links = ("masked_nik", "full_name")
    list_filter = (
        "status",
        ReviewStateFilter,
        SLAFilter,
        DuplicatePurchaseFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("applicant", "assigned_to")
    # The real search is attempt_search (get_search_results); a field here makes the
    # admin show the search box.
    search_fields = ("reference_id",)
    search_help_text = _(
        "Reference id, provider id, email address, phone number, or the whole "
        "16-digit NIK."
    )
    show_facets = admin.ShowFacets.NEVER
    change_form_template = "admin/verification/attempt/review_form.html"
    readonly_fields = (
        "full_nik",
        "masked_nik",
        "rejected_fields",
        "photo_warnings_sent",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Attempt | None = None):
        # The whole NIK only for those who may see the KTP photo that shows it.
        nik = (
            "full_nik"
            if request.user.has_perm(reviews.VIEW_IMAGES_PERMISSION)
            else "masked_nik"
        )
        return (
            (
                _("Submitted data"),
                {
                    "fields": (
                        nik,
                        "full_name",
                        "birth_date",
                        "birth_date_confirmed",
                        "photo_warnings_sent",
                        "email_address",
                        "phone_number",
                        "language",
                        "consent_version",
                        "consented_at",
                        "created_at",
                        "retry_of",
                    )
                },
            ),
            (
                _("Provider's answer"),
                {
                    "fields": (
                        "status",
                        "rejected_fields",
                        "reference_id",
                        "provider_id",
                        "error_id",
                        "failure",
                        "provider_field_errors",
                        "tries",
                        "unknown_outcomes",
                        "finished_at",
                    )
                },
            ),
            (_("Review"), {"fields": ("assigned_to", "assigned_at")}),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        decided_by = ReviewDecision.objects.filter(attempt=OuterRef("pk")).values(
            f"reviewer__{get_user_model().USERNAME_FIELD}"
        )[:1]
        return super().get_queryset(request).annotate(decided_by=Subquery(decided_by))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        sealed = getattr(request, "sealed_search", None)
        if sealed is None:
            if not search_term.strip():
                return queryset, False
            sealed = reviews.seal_search(search_term)
        return queryset.filter(reviews.attempt_search(sealed)), False

    @admin.display(description=_("review state"))
    def review_state(
        self, attempt: WithAnnotations[Attempt, _DecidedBy]
    ) -> StrOrPromise:
        if attempt.status == Status.NEEDS_REVIEW:
            if attempt.pending_proposal_id:
                return _("Waiting for a second reviewer")
            if attempt.assigned_to:
                return _("Taken by %(user)s") % {
                    "user": attempt.assigned_to.get_username()
                }
            return _("Waiting")
        if attempt.status in (Status.APPROVED, Status.REJECTED):
            return _("Decided by %(user)s") % {"user": attempt.decided_by or "—"}
        return "—"

    @admin.display(description=_("photo warnings the applicant sent anyway"))
    def photo_warnings_sent(self, attempt: Attempt) -> str:
        return "; ".join(photo_warning_labels(attempt.photo_warnings)) or "—"

    @admin.display(description=_("NIK"))
    def full_nik(self, attempt: Attempt) -> str:
        return attempt.applicant.nik

    # The attempt page -----------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/image/<str:kind>/",
                view(self.image_view),
                name="verification_attempt_image",
            ),
            path(
                "<int:object_id>/take/",
                view(self.take_view),
                name="verification_attempt_take",
            ),
            path(
                "<int:object_id>/release/",
                view(self.release_view),
                name="verification_attempt_release",
            ),
            path(
                "<int:object_id>/decide/",
                view(self.decide_view),
                name="verification_attempt_decide",
            ),
            path(
                "<int:object_id>/check/",
                view(self.check_view),
                name="verification_attempt_check",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        attempt = self.get_object(request, unquote(object_id))
        if attempt is not None and self.has_view_permission(request, attempt):
            report_unreadable(request, attempt)
            extra_context = {
                **(extra_context or {}),
                **self.review_context(request, attempt, extra_context),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def review_context(
        self, request: HttpRequest, attempt: Attempt, given: dict | None
    ) -> dict:
        user = request.user
        waiting = attempt.status == Status.NEEDS_REVIEW
        may_decide = user.has_perm(reviews.DECIDE_PERMISSION)
        held_by_other = attempt.assigned_to_id not in (None, user.pk)
        proposal = attempt.pending_proposal if waiting else None
        can_decide = may_decide and waiting and not held_by_other and not proposal
        form = (given or {}).get("decision_form") or (
            DecisionForm() if can_decide else None
        )
        can_check = bool(may_decide and proposal and proposal.reviewer_id != user.pk)
        check_form = (given or {}).get("check_form") or (
            CheckForm() if can_check else None
        )
        return {
            "proposal": proposal,
            "check_form": check_form if can_check else None,
            "review_steps": attempt.proposals.select_related(
                "reviewer", "review_check__reviewer"
            ).order_by("proposed_at", "pk"),
            "four_eyes": settings.REVIEW_FOUR_EYES,
            "answer_due": reviews.answer_due(attempt) if waiting else None,
            "overdue": reviews.is_overdue(attempt),
            "review_attempt": attempt,
            "reject_labels": reviews.reject_field_labels(attempt.reject_fields),
            "photo_warning_labels": photo_warning_labels(attempt.photo_warnings),
            "can_see_images": user.has_perm(reviews.VIEW_IMAGES_PERMISSION),
            "images": [
                (
                    kind.label,
                    reverse(
                        "admin:verification_attempt_image", args=[attempt.pk, kind]
                    ),
                )
                for kind in ImageAccess.Image
            ],
            "linked": reviews.linked_panel(attempt),
            "history": reviews.applicant_history(attempt),
            "calls": attempt.calls.all(),
            "call_totals": CallTotals.of(attempt.calls.all()),
            "emails": attempt.emails.all(),
            "decisions": attempt.decisions.select_related("reviewer"),
            "can_take": may_decide and waiting and attempt.assigned_to_id is None,
            "can_release": waiting
            and attempt.assigned_to_id is not None
            and (attempt.assigned_to_id == user.pk or user.is_superuser),
            "held_by_other": waiting and held_by_other and not proposal,
            "decision_form": form if can_decide else None,
        }

    @staticmethod
    def _view_only(request: HttpRequest) -> HttpRequest:
        # The admin's change view treats any POST as an edit of the attempt; the
        # decision form's errors are shown on the same page as a GET would show it.
        view_request = copy.copy(request)
        view_request.method = "GET"
        return view_request

    # Identity photos ------------------------------------------------------------------

    def image_view(
        self, request: HttpRequest, object_id: int, kind: str
    ) -> HttpResponse:
        """One identity photo, for users with verification.view_identity_images only
        (403 for anyone else, whether or not the attempt exists). Every view is
        recorded; the answer is never cached."""
        return require_safe(self._image)(request, object_id, kind)

    def _image(self, request: HttpRequest, object_id: int, kind: str) -> HttpResponse:
        if not (
            request.user.has_perm(reviews.VIEW_IMAGES_PERMISSION)
            and self.has_view_permission(request)
        ):
            raise PermissionDenied
        if kind not in IMAGE_FIELDS:
            raise Http404
        attempt = get_object_or_404(Attempt, pk=object_id)
        stored = getattr(attempt, IMAGE_FIELDS[kind])
        try:
            # At most 4 MB (the provider's limit): read whole, closed at once.
            with stored.open("rb") as handle:
                data = handle.read()
        except crypto.Undecryptable as error:
            logger.error(
                "Attempt %s: the %s photo cannot be decrypted (%s).",
                attempt.code,
                kind,
                error,
            )
            return HttpResponse(
                gettext("This photo cannot be decrypted with the configured keys."),
                status=409,
                content_type="text/plain; charset=utf-8",
            )
        except (FileNotFoundError, ValueError) as missing:
            raise Http404 from missing
        ImageAccess.objects.create(user=reviewer(request), attempt=attempt, image=kind)
        response = HttpResponse(data, content_type="image/jpeg")
        response["Cache-Control"] = "no-store, private"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = "inline"
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        return response

    # Taking and deciding --------------------------------------------------------------

    def _decidable(self, request: HttpRequest, object_id: int) -> Attempt:
        if not request.user.has_perm(reviews.DECIDE_PERMISSION):
            raise PermissionDenied
        return get_object_or_404(Attempt, pk=object_id)

    def take_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return require_POST(self._take)(request, object_id)

    def _take(self, request: HttpRequest, object_id: int) -> HttpResponse:
        attempt = self._decidable(request, object_id)
        if reviews.take_case(attempt=attempt, reviewer=reviewer(request)):
            self.log_change(request, attempt, gettext("Took the case."))
            messages.success(request, _("The case is yours: decide it when ready."))
        else:
            messages.error(
                request,
                _("Another reviewer has this case, or it no longer needs review."),
            )
        return redirect(attempt_url(attempt.pk))

    def release_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return require_POST(self._release)(request, object_id)

    def _release(self, request: HttpRequest, object_id: int) -> HttpResponse:
        attempt = self._decidable(request, object_id)
        if reviews.release_case(attempt=attempt, reviewer=reviewer(request)):
            self.log_change(request, attempt, gettext("Released the case."))
            messages.success(request, _("The case is back in the queue."))
        else:
            messages.error(request, _("There was no case of yours to release."))
        return redirect(attempt_url(attempt.pk))

    def decide_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return require_POST(self._decide)(request, object_id)

    def _decide(self, request: HttpRequest, object_id: int) -> HttpResponse:
        attempt = self._decidable(request, object_id)
        form = DecisionForm(request.POST)
        if not form.is_valid():
            response = self.change_view(
                self._view_only(request),
                str(attempt.pk),
                extra_context={"decision_form": form},
            )
            response.status_code = 400
            return response
        try:
            decision = reviews.decide(
                attempt=attempt, reviewer=reviewer(request), **form.cleaned_data
            )
        except reviews.DecisionRefused:
            messages.error(
                request,
                _(
                    "Nothing was changed: this attempt has already been decided, or "
                    "another reviewer has taken it."
                ),
            )
        except ValidationError as error:  # pragma: no cover - the form checks first
            messages.error(request, "; ".join(error.messages))
        else:
            label = {"decision": decision.get_decision_display()}
            if isinstance(decision, ReviewProposal):
                self.log_change(
                    request,
                    attempt,
                    gettext("Decided, for a second reviewer: %(decision)s.") % label,
                )
                messages.success(
                    request,
                    _(
                        "Decision recorded: %(decision)s. It waits for a second "
                        "reviewer's confirmation; the applicant hears nothing "
                        "until then."
                    )
                    % label,
                )
            else:
                self.log_change(
                    request, attempt, gettext("Decided: %(decision)s.") % label
                )
                messages.success(
                    request,
                    _(
                        "Decision recorded: %(decision)s. The applicant is being "
                        "emailed."
                    )
                    % label,
                )
        return redirect(attempt_url(attempt.pk))

    def check_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return require_POST(self._check)(request, object_id)

    def _check(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """A second reviewer confirms the decision waiting on this attempt, or sends
        it back with a note."""
        attempt = self._decidable(request, object_id)
        proposal = attempt.pending_proposal
        form = CheckForm(request.POST)
        if proposal is None:
            messages.error(
                request, _("Nothing was changed: no decision waits for a check here.")
            )
            return redirect(attempt_url(attempt.pk))
        if not form.is_valid():
            response = self.change_view(
                self._view_only(request),
                str(attempt.pk),
                extra_context={"check_form": form},
            )
            response.status_code = 400
            return response
        verdict, note = form.cleaned_data["verdict"], form.cleaned_data["note"]
        try:
            if verdict == ReviewCheck.Verdict.CONFIRMED:
                decision = reviews.confirm(
                    proposal=proposal, reviewer=reviewer(request), note=note
                )
            else:
                reviews.send_back(
                    proposal=proposal, reviewer=reviewer(request), note=note
                )
        except reviews.OwnDecision:
            messages.error(
                request,
                _("Nothing was changed: a second reviewer must check your decision."),
            )
        except reviews.DecisionRefused:
            messages.error(
                request,
                _(
                    "Nothing was changed: another reviewer has checked this decision "
                    "already."
                ),
            )
        else:
            if verdict == ReviewCheck.Verdict.CONFIRMED:
                label = {"decision": decision.get_decision_display()}
                self.log_change(
                    request, attempt, gettext("Confirmed: %(decision)s.") % label
                )
                messages.success(
                    request,
                    _(
                        "Decision confirmed: %(decision)s. The applicant is being "
                        "emailed."
                    )
                    % label,
                )
            else:
                self.log_change(request, attempt, gettext("Sent the decision back."))
                messages.success(
                    request,
                    _(
                        "Sent back to %(user)s with your note. The case waits for a "
                        "new decision."
                    )
                    % {"user": proposal.reviewer.get_username()},
                )
        return redirect(attempt_url(attempt.pk))


# The review queue ---------------------------------------------------------------------


@admin.register(ReviewCase)
class ReviewCaseAdmin(AttemptColumns, ReadOnlyAdmin):
    list_display = (
        "case",
        "full_name",
        "rejected_fields",
        "taken_by",
        "second_reviewer",
        "created_at",
        "age",
        "due",
    )
    list_display_links = None
    list_filter = (AssignmentFilter, SLAFilter)
    list_select_related = ("applicant", "assigned_to", "pending_proposal__reviewer")
    ordering = ("created_at", "pk")
    actions = ("take_cases",)
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/verification/reviewcase/change_list.html"

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(reviews.DECIDE_PERMISSION)

    def get_changelist(self, request: HttpRequest, **kwargs):
        return AttemptChangeList

    @admin.display(description=_("second reviewer"))
    def second_reviewer(self, attempt: Attempt) -> str:
        proposal = attempt.pending_proposal
        if proposal is None:
            return "—"
        return gettext("Waiting: %(decision)s by %(user)s") % {
            "decision": proposal.get_decision_display(),
            "user": proposal.reviewer.get_username(),
        }

    @admin.display(description=_("answer due"))
    def due(self, attempt: Attempt) -> str:
        due = reviews.answer_due(attempt)
        if reviews.is_overdue(attempt):
            return format_html(
                '<span class="review-overdue">{}</span>',
                gettext("Overdue by %(age)s") % {"age": age(due)},
            )
        return gettext("in %(age)s") % {"age": timeuntil(due, depth=1)}

    @admin.display(description=_("NIK"))
    def case(self, attempt: Attempt) -> str:
        return format_html(
            '<a href="{}">{}</a>', attempt_url(attempt.pk), attempt.applicant.masked_nik
        )

    @admin.action(
        description=_("Assign the selected cases to me"), permissions=["decide"]
    )
    def take_cases(self, request: HttpRequest, queryset: QuerySet) -> None:
        cases = list(queryset)
        taken = sum(
            reviews.take_case(attempt=attempt, reviewer=reviewer(request))
            for attempt in cases
        )
        refused = len(cases) - taken
        messages.info(
            request,
            _("%(taken)d case(s) assigned to you; %(refused)d held by others.")
            % {"taken": taken, "refused": refused},
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "dashboard": reviews.dashboard()}
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        """A case's page is its attempt's page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        case = self.get_object(request, unquote(object_id))
        if case is None:
            raise Http404
        return HttpResponseRedirect(attempt_url(case.pk))


# Applicants ---------------------------------------------------------------------------


@admin.register(Applicant)
class ApplicantAdmin(SealedSearch, ReadOnlyAdmin):
    list_display = ("masked_nik", "created_at", "attempt_count")
    # The real search is by NIK digest (get_search_results); a field here makes the
    # admin show the search box.
    search_fields = ("code",)
    search_help_text = _("The whole 16-digit NIK.")
    fields = ("masked_nik", "created_at", "redacted_at", "attempt_links")
    readonly_fields = ("masked_nik", "attempt_links")
    show_facets = admin.ShowFacets.NEVER
    actions = ("export_subject_data", "erase_subject_data")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Counted for the rows of the page only, not grouped over the whole table.
        attempts = (
            Attempt.objects.filter(applicant=OuterRef("pk"))
            .order_by()
            .values("applicant")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(attempt_count=Coalesce(Subquery(attempts), 0))
        )

    # Data-subject requests ------------------------------------------------------------

    def has_export_subject_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(subjects.EXPORT_PERMISSION)

    def has_erase_subject_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(subjects.ERASE_PERMISSION)

    @admin.action(
        description=_("Export everything held about this person (archive)"),
        permissions=["export_subject"],
    )
    def export_subject_data(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponseBase | None:
        applicant, form = self._subject_request(request, queryset, erasure=False)
        if (
            applicant is None
            or form is None
            or not form.is_bound
            or not form.is_valid()
        ):
            return self._subject_page(request, applicant, form, erasure=False)
        archive = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response)
        record = subjects.export_archive(
            archive,
            applicant=applicant,
            reference=form.cleaned_data["reference"],
            performed_by=cast(AbstractBaseUser, request.user),
        )
        self.log_change(request, applicant, gettext("Exported the person's data."))
        archive.seek(0)
        response = FileResponse(
            archive,
            as_attachment=True,
            filename=f"subject-data-{record.code}.zip",
            content_type="application/zip",
        )
        response["Cache-Control"] = "no-store, private"
        return response

    @admin.action(
        description=_("Erase this person's data"), permissions=["erase_subject"]
    )
    def erase_subject_data(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        applicant, form = self._subject_request(request, queryset, erasure=True)
        if (
            applicant is None
            or form is None
            or not form.is_bound
            or not form.is_valid()
        ):
            return self._subject_page(request, applicant, form, erasure=True)
        try:
            record = subjects.erase(
                applicant=applicant,
                reference=form.cleaned_data["reference"],
                performed_by=cast(AbstractBaseUser, request.user),
            )
        except subjects.ErasureRefused as refused:
            messages.error(
                request,
                _("Nothing was erased: %(reason)s") % {"reason": refused},
            )
            return None
        self.log_change(request, applicant, gettext("Erased the person's data."))
        messages.success(
            request,
            _(
                "Erased: %(attempts)d attempt(s) and %(photos)d photo(s) of "
                "%(nik)s. The minimal audit record and the erasure are kept."
            )
            % {
                "attempts": record.counts["attempts"],
                "photos": record.counts["photos"],
                "nik": record.masked_nik,
            },
        )
        return None

    def _subject_request(
        self, request: HttpRequest, queryset: QuerySet, *, erasure: bool
    ) -> tuple[Applicant | None, SubjectRequestForm | None]:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            messages.error(
                request, _("Choose exactly one applicant: one request each.")
            )
            return None, None
        data = request.POST if "reference" in request.POST else None
        return chosen[0], SubjectRequestForm(data, erasure=erasure)

    def _subject_page(
        self,
        request: HttpRequest,
        applicant: Applicant | None,
        form: SubjectRequestForm | None,
        *,
        erasure: bool,
    ) -> HttpResponse | None:
        if applicant is None or form is None:
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Erase a person's data")
            if erasure
            else _("Export everything held about a person"),
            "applicant": applicant,
            "attempts": applicant.attempts.count(),
            # Erasing the evidence behind an issued certificate may break the
            # PSrE's record-keeping duty: the officer is told before confirming.
            "certified": applicant.attempts.filter(
                status__in=(Status.VERIFIED, Status.APPROVED)
            ).count(),
            "form": form,
            "erasure": erasure,
            "action": "erase_subject_data" if erasure else "export_subject_data",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/verification/applicant/subject_request.html", context
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        sealed = getattr(request, "sealed_search", None)
        if sealed is None:
            if not search_term.strip():
                return queryset, False
            sealed = reviews.seal_search(search_term)
        return queryset.filter(nik_digest=sealed.get("nik") or "-"), False

    @admin.display(description=_("NIK"))
    def masked_nik(self, applicant: Applicant) -> str:
        return applicant.masked_nik

    @admin.display(description=_("attempts"), ordering="attempt_count")
    def attempt_count(
        self, applicant: WithAnnotations[Applicant, _AttemptCount]
    ) -> int:
        return applicant.attempt_count

    @admin.display(description=_("attempts"))
    def attempt_links(self, applicant: Applicant) -> str:
        attempts = applicant.attempts.order_by("-created_at")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> — {} ({})</li>',
                (
                    (
                        attempt_url(a.pk),
                        timezone.localtime(a.created_at).strftime("%Y-%m-%d %H:%M"),
                        a.get_status_display(),
                        a.full_name,
                    )
                    for a in attempts
                ),
            ),
        )


# Audit records ------------------------------------------------------------------------


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdmin):
    list_display = (
        "decided_at",
        "attempt_link",
        "masked_nik",
        "decision",
        "reason",
        "reviewer",
    )
    list_display_links = ("decided_at",)
    list_filter = ("decision", "reason", ("decided_at", admin.DateFieldListFilter))
    list_select_related = ("attempt__applicant", "reviewer")
    fields = (
        "attempt_link",
        "decision",
        "reason",
        "note",
        "applicant_message",
        "reviewer",
        "decided_at",
    )
    readonly_fields = ("attempt_link",)
    actions = ("export_csv",)
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("attempt"))
    def attempt_link(self, decision: ReviewDecision) -> str:
        return format_html(
            '<a href="{}">{}</a>', attempt_url(decision.attempt_id), decision.attempt
        )

    @admin.display(description=_("NIK"))
    def masked_nik(self, decision: ReviewDecision) -> str:
        return decision.attempt.applicant.masked_nik

    @admin.action(description=_("Export the selected decisions as CSV"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="review-decisions-{stamp}.csv"'
        )
        response["Cache-Control"] = "no-store, private"
        # A byte order mark, so that spreadsheet programs read the file as UTF-8.
        response.write("\ufeff")
        csv.writer(response).writerows(reviews.decision_rows(queryset))
        return response


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "performed_at",
        "kind",
        "masked_nik",
        "reference",
        "performed_by_name",
    )
    list_filter = ("kind", ("performed_at", admin.DateFieldListFilter))
    fields = (
        "performed_at",
        "kind",
        "masked_nik",
        "applicant",
        "reference",
        "performed_by_name",
        "counts",
    )
    show_facets = admin.ShowFacets.NEVER


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "photos_deleted",
        "attempts_redacted",
        "applicants_redacted",
        "decisions_redacted",
        "finished_at",
    )
    fields = (*list_display, "periods")
    show_facets = admin.ShowFacets.NEVER


@admin.register(ImageAccess)
class ImageAccessAdmin(ReadOnlyAdmin):
    list_display = ("accessed_at", "user", "attempt_link", "image")
    list_filter = ("image", ("accessed_at", admin.DateFieldListFilter))
    list_select_related = ("user", "attempt")
    fields = ("accessed_at", "user", "attempt_link", "image")
    readonly_fields = ("attempt_link",)
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("attempt"))
    def attempt_link(self, access: ImageAccess) -> str:
        return format_html(
            '<a href="{}">{}</a>', attempt_url(access.attempt_id), access.attempt
        )


# The cost ledger ----------------------------------------------------------------------


def _month_param(value: str | None) -> date | None:
    try:
        year, month = (value or "").split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        return None


def _day_param(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


class MonthFilter(admin.SimpleListFilter):
    """Calls started in a local calendar month (`month=2026-12`)."""

    title = _("month")
    parameter_name = "month"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [
            (month.strftime("%Y-%m"), date_format(month, "YEAR_MONTH_FORMAT"))
            for month in ledger.months_back(12)
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        month = _month_param(self.value())
        if month is None:
            return None
        start, end = ledger.month_bounds(month)
        return queryset.filter(started_at__gte=start, started_at__lt=end)


class DayFilter(admin.SimpleListFilter):
    """Calls started on a local calendar day (`day=2026-12-01`); the ledger's days
    link here."""

    title = _("day")
    parameter_name = "day"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        today = timezone.localdate()
        days = [today - timedelta(days=n) for n in range(7)]
        chosen = _day_param(self.value())
        if chosen is not None and chosen not in days:
            days.append(chosen)
        return [(day.isoformat(), date_format(day, "DATE_FORMAT")) for day in days]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        day = _day_param(self.value())
        if day is None:
            return None
        start, end = ledger.day_bounds(day)
        return queryset.filter(started_at__gte=start, started_at__lt=end)


class Echo:
    """A file-like object whose write returns what it was given: csv.writer writes
    one row into it and the streaming response sends it."""

    def write(self, value: str) -> str:
        return value


def streamed_csv(rows: Iterable[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(Echo())
    lines = (
        writer.writerow([reviews.spreadsheet_safe(cell) for cell in row])
        for row in rows
    )
    # A byte order mark, so that spreadsheet programs read the file as UTF-8.
    response = StreamingHttpResponse(
        itertools.chain(["\ufeff"], lines), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store, private"
    return response


@admin.register(ProviderCall)
class ProviderCallAdmin(SealedSearch, ReadOnlyAdmin):
    """The cost ledger: every call to the provider, what it cost, the month's
    totals day by day and what was paid twice, on one page; CSV of both."""

    list_display = (
        "started_at",
        "attempt_link",
        "outcome",
        "charged",
        "liveness_only",
        "paid_twice",
        "price",
        "provider_id",
        "reference_id",
        "duration_ms",
        "http_status",
    )
    list_display_links = ("started_at",)
    list_filter = (MonthFilter, DayFilter, "outcome", "charged", "duplicate")
    list_select_related = ("attempt",)
    ordering = ("-started_at", "-pk")
    search_fields = ("provider_id",)
    search_help_text = _(
        "Provider id or reference id (whole, or its first 8 characters or more), "
        "or an attempt's email address, phone number or whole NIK."
    )
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/verification/providercall/change_list.html"
    fields = (
        "attempt_link",
        "started_at",
        "finished_at",
        "duration_ms",
        "http_status",
        "outcome",
        "charged",
        "liveness_only",
        "duplicate",
        "price",
        "provider_id",
        "reference_id",
        "error_id",
        "error_type",
        "answer",
    )
    readonly_fields = ("attempt_link", "price")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The attempt's code only: its identity columns would be decrypted per row.
        return (
            super()
            .get_queryset(request)
            .defer(
                *(f"attempt__{name}" for name in CALL_LIST_DEFERRED),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        sealed = getattr(request, "sealed_search", None)
        if sealed is None:
            if not search_term.strip():
                return queryset, False
            sealed = reviews.seal_search(search_term)
        query = Q(pk__in=[])
        if term := sealed.get("id"):
            query |= reviews.id_match(term, "provider_id", "reference_id")
        if any(sealed.get(kind) for kind in ("nik", "email", "phone")):
            contact = {**sealed, "id": None}
            attempts = list(
                Attempt.objects.filter(reviews.attempt_search(contact))
                .order_by()
                .values_list("pk", flat=True)[: reviews.SEARCH_CALLS_LIMIT]
            )
            if attempts:
                query |= Q(attempt_id__in=attempts)
        return queryset.filter(query), False

    @admin.display(description=_("attempt"))
    def attempt_link(self, call: ProviderCall) -> str:
        return format_html(
            '<a href="{}">{}</a>', attempt_url(call.attempt_id), call.attempt.code
        )

    @admin.display(description=_("duplicate purchase"), boolean=True)
    def paid_twice(self, call: ProviderCall) -> bool:
        return call.duplicate

    @admin.display(description=_("estimated price (IDR)"))
    def price(self, call: ProviderCall) -> str:
        prices = ledger.Prices.from_settings()
        if not prices.configured:
            return "—"
        return number_format(prices.of(call), force_grouping=True)

    # The month's ledger ---------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "export/calls.csv",
                view(self.export_calls_view),
                name="verification_providercall_export_calls",
            ),
            path(
                "export/month.csv",
                view(self.export_month_view),
                name="verification_providercall_export_month",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def chosen_month(request: HttpRequest) -> date:
        """The month the ledger shows: the one filtered on, the day's, or this one."""
        month = _month_param(request.GET.get("month"))
        day = _day_param(request.GET.get("day"))
        return month or (day.replace(day=1) if day else timezone.localdate())

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        month = self.chosen_month(request)
        extra_context = {
            **(extra_context or {}),
            "ledger": ledger.month_ledger(month),
        }
        return super().changelist_view(request, extra_context)

    def export_calls_view(self, request: HttpRequest) -> HttpResponseBase:
        """The calls the list shows (its filters and search, every page) as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        self.unseal(request)
        calls = self.get_changelist_instance(request).get_queryset(request)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return streamed_csv(ledger.call_rows(calls), f"provider-calls-{stamp}.csv")

    def export_month_view(self, request: HttpRequest) -> HttpResponseBase:
        """The month's ledger, a line per day and the month, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        month = self.chosen_month(request)
        rows = ledger.total_rows(ledger.month_ledger(month))
        return streamed_csv(rows, f"provider-ledger-{month:%Y-%m}.csv")


# What a call's row never needs of its attempt (decrypted on load).
CALL_LIST_DEFERRED = (
    "full_name",
    "birth_date",
    "email_address",
    "phone_number",
    "provider_field_errors",
)


@admin.register(KeyRotation)
class KeyRotationAdmin(ReadOnlyAdmin):
    list_display = ("performed_at", "key_id", "performed_by_name", "unreadable")
    fields = (*list_display, "counts", "chain_seq", "chain_hash")
    show_facets = admin.ShowFacets.NEVER
