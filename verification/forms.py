"""The reviewer's decision form on the admin's attempt page."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from verification import reviews
from verification.models import ReviewCheck, ReviewDecision

NOTE_MAX_LENGTH = 4000
MESSAGE_MAX_LENGTH = 1000


class DecisionForm(forms.Form):
    """Approve or Reject (the button pressed), a reason, an internal note and an
    optional message to the applicant. `clean()` applies `reviews.clean_decision`,
    so the form and the decision function refuse the same things."""

    decision = forms.ChoiceField(
        choices=ReviewDecision.Decision.choices,
        error_messages={
            "required": reviews.MESSAGES["invalid_decision"],
            "invalid_choice": reviews.MESSAGES["invalid_decision"],
        },
    )
    reason = forms.ChoiceField(
        label=_("Reason"), choices=reviews.reason_choices, required=False
    )
    note = forms.CharField(
        label=_("Internal note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "For the compliance team and auditors only: what you checked and why "
            "you decided this way. The applicant never sees it."
        ),
        error_messages={"required": reviews.MESSAGES["note_required"]},
    )
    applicant_message = forms.CharField(
        label=_("Message to the applicant (optional)"),
        max_length=MESSAGE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Sent by email with the outcome and shown on the applicant's status "
            "page. Write it for the applicant, in plain words."
        ),
    )

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if "decision" in self.errors:
            return data
        try:
            clean = reviews.clean_decision(
                decision=data["decision"],
                reason=data.get("reason", ""),
                note=data.get("note", ""),
                applicant_message=data.get("applicant_message", ""),
            )
        except ValidationError as error:
            # Every problem at once, each field's own error first.
            for name, problems in error.error_dict.items():
                if name not in self.errors:
                    self.add_error(name, problems)
            return data
        data.update(
            reason=clean.reason,
            note=clean.note,
            applicant_message=clean.applicant_message,
        )
        return data


class SubjectRequestForm(forms.Form):
    """The admin's export and erasure actions ask for the request they answer (and,
    for an erasure, an explicit confirmation)."""

    reference = forms.CharField(
        label=_("Request reference"),
        max_length=200,
        help_text=_("The ticket or letter number of the request. No personal data."),
    )
    confirm = forms.BooleanField(
        label=_("I understand that this cannot be undone."), required=False
    )

    def __init__(self, *args, erasure: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if erasure:
            self.fields["confirm"].required = True
        else:
            del self.fields["confirm"]


class CheckForm(forms.Form):
    """A second reviewer's check of a decision waiting under four-eyes review:
    Confirm or Send back (the button pressed), with a note (required to send it
    back: what the first reviewer should look at again)."""

    verdict = forms.ChoiceField(
        choices=ReviewCheck.Verdict.choices,
        error_messages={
            "required": _("Choose Confirm or Send back."),
            "invalid_choice": _("Choose Confirm or Send back."),
        },
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Required to send the decision back: what to look at again. Kept in "
            "the review record; the applicant never sees it."
        ),
    )

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        note = (data.get("note") or "").strip()
        if data.get("verdict") == ReviewCheck.Verdict.SENT_BACK and not note:
            self.add_error(
                "note",
                ValidationError(
                    reviews.MESSAGES["send_back_note_required"],
                    code="send_back_note_required",
                ),
            )
        data["note"] = note
        return data
