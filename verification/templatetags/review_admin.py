"""The admin index's review dashboard; the banner every admin page shows while the
day's budget of provider calls is spent."""

from __future__ import annotations

from django import template
from django.conf import settings

from verification import budget, reviews

register = template.Library()


@register.simple_tag(takes_context=True)
def review_dashboard(context: template.Context) -> reviews.Dashboard | None:
    """Today's attempts and the review queue, for users who may view attempts;
    None for anyone else."""
    request = context.get("request")
    if request is None or not request.user.has_perm("verification.view_attempt"):
        return None
    return reviews.dashboard()


@register.simple_tag(takes_context=True)
def daily_budget_spent(context: template.Context) -> int | None:
    """The day's budget (DAILY_VERIFICATION_BUDGET) when it is spent, for staff
    signed in; None otherwise (the login page tells nobody)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not (user.is_active and user.is_staff):
        return None
    return settings.DAILY_VERIFICATION_BUDGET if budget.spent() else None
