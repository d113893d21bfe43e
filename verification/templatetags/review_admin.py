"""The admin index's review dashboard."""

from __future__ import annotations

from django import template

from verification import reviews

register = template.Library()


@register.simple_tag(takes_context=True)
def review_dashboard(context: template.Context) -> reviews.Dashboard | None:
    """Today's attempts and the review queue, for users who may view attempts;
    None for anyone else."""
    request = context.get("request")
    if request is None or not request.user.has_perm("verification.view_attempt"):
        return None
    return reviews.dashboard()
