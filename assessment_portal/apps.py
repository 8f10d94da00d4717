from django.apps import AppConfig


class AssessmentPortalConfig(AppConfig):
    name = "assessment_portal"
    verbose_name = "Accounts"

    def ready(self):
        from . import signals  # noqa: F401 - connects the security log receivers
