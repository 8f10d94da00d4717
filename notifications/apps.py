from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        # Connects the receivers that turn assessment events into notifications.
        from . import receivers  # noqa: F401
