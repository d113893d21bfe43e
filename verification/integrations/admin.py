"""The operators' pages for integrations in Django admin.

- API keys: made here (the key and its webhook signing secret are shown once, on
  the page that follows), renamed, pointed at another webhook URL, revoked; a new
  signing secret on demand. Never deleted: their sessions and deliveries point at
  them.
- Verification sessions: read-only, without the prefill (identity data).
- Webhook deliveries: the log of every event, with each try's response code or
  error; "Send again" posts one again with the same webhook-id.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from verification.integrations import keys, targets, webhooks
from verification.integrations.models import (
    ApiKey,
    VerificationSession,
    WebhookDelivery,
)


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "webhook_url"]

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"].strip()
        problem = targets.url_problem(url) if url else None
        if problem:
            raise forms.ValidationError(problem, code="webhook_url")
        return url


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "webhook_url",
        "created_at",
        "last_used_at",
        "state",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke", "new_signing_secret"]

    @admin.display(description=_("state"))
    def state(self, api_key: ApiKey) -> str:
        return str(_("revoked") if api_key.revoked else _("active"))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "webhook_url"]
        return ["name", "webhook_url", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return list(self.readonly_fields) if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        made = keys.make_key(name=obj.name, webhook_url=obj.webhook_url, api_key=obj)
        request._new_api_key = made  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        made: keys.NewKey = request._new_api_key  # type: ignore[attr-defined]
        return self._shown_once(request, obj, key=made.key, secret=made.webhook_secret)

    def _shown_once(
        self, request: HttpRequest, api_key: ApiKey, *, key: str, secret: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": api_key,
            "key": key,
            "secret": secret,
            "title": _("Copy these now: they are shown once"),
            "change_url": reverse(
                "admin:integrations_apikey_change", args=[api_key.pk]
            ),
        }
        response = TemplateResponse(
            request, "admin/integrations/apikey/shown_once.html", context
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = sum(keys.revoke(api_key) for api_key in queryset)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", count)
            % {"count": count},
        )

    @admin.action(
        description=_("Make a new webhook signing secret"), permissions=["change"]
    )
    def new_signing_secret(
        self, request: HttpRequest, queryset: QuerySet[ApiKey]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request, _("Choose exactly one key."), level=messages.WARNING
            )
            return None
        api_key = queryset.get()
        secret = keys.new_signing_secret(api_key)
        return self._shown_once(request, api_key, key="", secret=secret)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VerificationSession)
class VerificationSessionAdmin(ReadOnly):
    list_display = [
        "code",
        "api_key",
        "external_reference",
        "status",
        "created_at",
        "expires_at",
        "status_changed_at",
    ]
    list_filter = ["status", "api_key"]
    list_select_related = ["api_key"]
    search_fields = ["=external_reference", "=code"]
    # Never the prefill: it is identity data, and gone once an attempt holds it.
    fields = (
        "code",
        "api_key",
        "external_reference",
        "status",
        "attempt_link",
        "return_url",
        "language",
        "created_at",
        "opened_at",
        "expires_at",
        "status_changed_at",
    )
    readonly_fields = fields

    @admin.display(description=_("current attempt"))
    def attempt_link(self, session: VerificationSession) -> str:
        if session.attempt_id is None:
            return "-"
        url = reverse("admin:verification_attempt_change", args=[session.attempt_id])
        return format_html('<a href="{}">{}</a>', url, session.attempt)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly):
    list_display = [
        "created_at",
        "api_key",
        "session",
        "about",
        "state",
        "tries",
        "last_status_code",
        "last_error",
        "delivered_at",
    ]
    list_filter = ["state", "api_key", "about"]
    list_select_related = ["api_key", "session"]
    search_fields = ["=session__code", "=session__external_reference"]
    fields = (
        "webhook_id",
        "api_key",
        "session",
        "event",
        "about",
        "state",
        "tries",
        "last_status_code",
        "last_error",
        "next_try_at",
        "give_up_at",
        "delivered_at",
        "created_at",
        "pretty_body",
        "tries_made",
    )
    readonly_fields = fields
    actions = ["send_again"]

    @admin.display(description="webhook-id")
    def webhook_id(self, delivery: WebhookDelivery) -> str:
        return delivery.webhook_id

    @admin.display(description=_("body"))
    def pretty_body(self, delivery: WebhookDelivery) -> str:
        text = json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)

    @admin.display(description=_("tries made"))
    def tries_made(self, delivery: WebhookDelivery) -> str:
        if not delivery.history:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td></tr>",
            (
                (t.get("at"), t.get("status") or "-", t.get("error") or "", t.get("ms"))
                for t in delivery.history
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            _("time"),
            _("response code"),
            _("error"),
            _("duration"),
            rows,
        )

    @admin.action(description=_("Send again"))
    def send_again(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]
    ) -> None:
        count = webhooks.send_again(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d webhook will be sent again.",
                "%(count)d webhooks will be sent again.",
                count,
            )
            % {"count": count},
        )
