from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from onboarding import health, views

urlpatterns = [
    path("", views.start, name="start"),
    path("healthz", health.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.KREDIBEL_SANDBOX:
    urlpatterns.append(path("sandbox/", include("verification.sandbox_urls")))
