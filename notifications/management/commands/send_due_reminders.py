from django.core.management.base import BaseCommand

from notifications.models import Kind
from notifications.reminders import send_due_reminders


class Command(BaseCommand):
    help = (
        "Remind candidates and assessors of enrolments due within 7 days or overdue. "
        "Run it daily from a scheduler; each reminder is sent once, however often it runs."
    )

    def handle(self, *args, **options):
        sent = send_due_reminders()
        self.stdout.write(
            f"Reminded {sent[Kind.DUE_SOON]} enrolments due soon and {sent[Kind.OVERDUE]} overdue."
        )
