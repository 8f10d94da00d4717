from django.apps import AppConfig


class AssessmentPortalConfig(AppConfig):
    name = "assessment_portal"
    verbose_name = "Accounts"
