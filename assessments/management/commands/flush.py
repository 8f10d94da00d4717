"""Django's ``flush``, allowed to empty the append-only history tables.

See ``assessments/append_only.py``: deleting history rows is possible only
inside this command's transaction. Django's test runner calls ``flush`` after
transactional and browser tests, so it needs the same pass.
"""

from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections

from assessments.append_only import maintenance


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        with maintenance(connection, "manage.py flush"):
            return super().handle(**options)
