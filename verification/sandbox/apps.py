from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "verification.sandbox"
    label = "sandbox"
    verbose_name = "Kredibel sandbox"
