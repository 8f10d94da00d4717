from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations: API, webhooks and exports"

    def ready(self):
        from . import receivers  # noqa: F401  (connects to the assessment signals)
