"""History tables the database itself keeps append-only.

Triggers on each table in ``TABLES`` refuse every UPDATE, and every DELETE
(and, on PostgreSQL, TRUNCATE) — whoever sends it: the ORM, the admin, a
data migration or someone at a SQL prompt. The models refuse the same in
Python first (``AppendOnly``), with a clearer message.

The one legitimate deletion is emptying a whole database: ``manage.py flush``,
which Django's test runner also uses after transactional and browser tests.
Our ``flush`` command (``management/commands/flush.py``) runs inside
``maintenance()``: it inserts a row into ``MAINTENANCE_TABLE`` in the same
transaction as the flush, and the delete triggers let rows go only while that
row exists. The row is never committed (it is deleted again, or rolled back
with the flush), so no other connection ever sees it. UPDATE is refused even
then.

SQLite rebuilds a table (dropping its triggers) for many ALTER TABLE changes,
so the triggers are also re-installed after every ``migrate`` (``post_migrate``,
see ``apps.py``); the statements are idempotent.
"""

# Every statement here is built from the constant table names above, never from
# input, hence the S608 exemptions.
# ruff: noqa: S608

from contextlib import contextmanager

from django.db import migrations, transaction

TABLES = [
    "assessments_auditentry",
    "assessments_signoff",
    "assessments_amendment",
    "assessments_moderationreview",
    "assessments_moderatedcriterion",
    "assessments_assessorresponse",
    "assessments_enrolmentstatuschange",
    # The standards app's log of wording corrections to releases in use: history too.
    "standards_cataloguecorrection",
]
MAINTENANCE_TABLE = "assessments_history_maintenance"
FUNCTION = "assessments_refuse_history_change"


def _sqlite_install(table):
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
        WHEN NOT EXISTS (SELECT 1 FROM {MAINTENANCE_TABLE})
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END""",
    ]


def _postgresql_install(table):
    return [
        f"""CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()""",
        # TRUNCATE fires no row triggers; flush uses it, so it needs its own.
        f"""CREATE OR REPLACE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()""",
    ]


POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' AND EXISTS (SELECT 1 FROM {MAINTENANCE_TABLE}) THEN
        IF TG_LEVEL = 'ROW' THEN RETURN OLD; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$"""


def install_statements(vendor, tables=TABLES):
    if vendor == "postgresql":
        create = f"CREATE TABLE IF NOT EXISTS {MAINTENANCE_TABLE} (reason text NOT NULL)"
        per_table = _postgresql_install
        statements = [create, POSTGRESQL_FUNCTION]
    elif vendor == "sqlite":
        create = f"CREATE TABLE IF NOT EXISTS {MAINTENANCE_TABLE} (reason TEXT NOT NULL)"
        per_table = _sqlite_install
        statements = [create]
    else:
        raise NotImplementedError(f"No append-only triggers for {vendor}; use PostgreSQL.")
    return statements + [sql for table in tables for sql in per_table(table)]


def uninstall_statements(vendor, tables=TABLES):
    if vendor == "postgresql":
        drops = [
            f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {table}"
            for table in tables
            for suffix in ["append_only", "append_only_truncate"]
        ]
        return [*drops, f"DROP FUNCTION IF EXISTS {FUNCTION}()", _drop_maintenance()]
    drops = [
        f"DROP TRIGGER IF EXISTS {table}_{suffix}"
        for table in tables
        for suffix in ["no_update", "no_delete"]
    ]
    return [*drops, _drop_maintenance()]


def triggers_for(tables):
    """A migration operation that gives ``tables`` (joining the history) their triggers,
    and on the way back takes away only theirs: the others and the maintenance table stay."""

    def install_triggers(apps, schema_editor):
        for sql in install_statements(schema_editor.connection.vendor, tables):
            schema_editor.execute(sql, None)

    def uninstall_triggers(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in uninstall_statements(vendor, tables)[: 2 * len(tables)]:
            schema_editor.execute(sql, None)

    return migrations.RunPython(install_triggers, uninstall_triggers)


def _drop_maintenance():
    return f"DROP TABLE IF EXISTS {MAINTENANCE_TABLE}"


def install(connection):
    """Create (or re-create) the triggers on ``connection``'s database."""
    with connection.cursor() as cursor:
        for sql in install_statements(connection.vendor):
            cursor.execute(sql)


def reinstall(connection):
    """Re-create the triggers if this database has them installed (see the module docstring)."""
    existing = set(connection.introspection.table_names())
    if MAINTENANCE_TABLE in existing and existing.issuperset(TABLES):
        install(connection)


@contextmanager
def maintenance(connection, reason):
    """Allow deleting history rows, inside one transaction on ``connection`` only."""
    if MAINTENANCE_TABLE not in connection.introspection.table_names():
        yield  # not migrated yet: there are no triggers to pass
        return
    with transaction.atomic(using=connection.alias):
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {MAINTENANCE_TABLE} (reason) VALUES (%s)", [reason])
        yield
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {MAINTENANCE_TABLE}")
