from django.apps import apps
from django.contrib import admin
from django.urls import include, path

from onboarding import health, views
from verification import metrics, two_step

urlpatterns = [
    path("", views.start, name="start"),
    path("privacy/", views.privacy, name="privacy"),
    path("register/", views.register, name="register"),
    path("register/edit/", views.register_edit, name="register_edit"),
    path("register/confirm/", views.register_confirm, name="register_confirm"),
    path("register/code/", views.register_code, name="register_code"),
    path("register/language/", views.register_language, name="register_language"),
    path("register/retry/<uuid:code>/", views.register_retry, name="register_retry"),
    path("register/photo/<str:token>/", views.pending_photo, name="pending_photo"),
    path("register/handoff/", views.handoff, name="handoff"),
    path("continue/<str:token>/", views.handoff_open, name="handoff_open"),
    path("status/<uuid:code>/", views.status, name="status"),
    path("status/<uuid:code>/poll", views.status_poll, name="status_poll"),
    path("status/<uuid:code>/retry", views.status_retry, name="status_retry"),
    path("status/link/<str:token>/", views.status_link, name="status_link"),
    path("verify/<str:token>/", views.session_open, name="session_open"),
    path("api/v1/", include("verification.integrations.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/two-step/", two_step.verify, name="two_step_verify"),
    path("admin/two-step/setup/", two_step.setup, name="two_step_setup"),
    path("admin/", admin.site.urls),
]

if apps.is_installed("verification.sandbox"):
    urlpatterns.append(path("sandbox/", include("verification.sandbox.urls")))
