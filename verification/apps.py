from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = _("Identity verification")

    def ready(self) -> None:
        from verification import checks, staff_sessions  # noqa: F401 (registers)
