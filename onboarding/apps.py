from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = _("Applicant onboarding")

    def ready(self) -> None:
        from onboarding import checks  # noqa: F401 (registers the checks)
