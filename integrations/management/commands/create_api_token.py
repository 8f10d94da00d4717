from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from integrations import tokens
from integrations.models import ApiToken


class Command(BaseCommand):
    help = (
        "Create an API token for an administrator and print it (shown once; only its hash "
        "is stored). The same as Administration → API tokens → New API token."
    )

    def add_arguments(self, parser):
        parser.add_argument("--admin", required=True, help="Username of the administrator")
        parser.add_argument("--name", required=True, help="Which system uses it")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default="read")
        parser.add_argument("--days", type=int, help="Expire after this many days")

    def handle(self, admin, name, scope, days=None, **options):
        user = get_user_model().objects.filter(username=admin).first()
        if user is None or not user.is_administrator:
            raise CommandError(f"{admin} is not an administrator.")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            _token, raw = tokens.create_token(
                name=name, scope=scope, expires_at=expires_at, by=user
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(raw)
