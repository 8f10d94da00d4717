"""PostgreSQL as Django ships it, except for how many rows one bulk INSERT carries.

With server-side binding (settings.py: PostgreSQL keeps the plans of prepared
statements), a statement carries at most 65,535 parameters, and Django splits every
bulk insert by that: 5,041 rows of a judgement's 13 columns. But Django sends literal
rows to PostgreSQL as one array per column (``INSERT ... SELECT * FROM UNNEST(...)``):
as many parameters as columns, however many rows. Enrolling a cohort of 500 in a unit
of 14 criteria (7,000 judgements) took two INSERTs, one more for every 5,041 more
(issue 13: the queries of a cohort's enrolment must not grow with the unit's criteria).
"""

from django.db.backends.postgresql import base, operations
from django.db.models import Model


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        if self._inserted_as_arrays(fields, objs):
            return len(objs)
        return super().bulk_batch_size(fields, objs)

    def _inserted_as_arrays(self, fields, objs):
        """Whether ``objs`` are rows for a bulk insert of ``fields`` that Django's
        PostgreSQL compiler sends as arrays (its SQLInsertCompiler.assemble_as_sql): model
        instances of the fields' own model, every column of a type PostgreSQL has arrays
        of, no value computed by the database. (Deletions and updates ask too, with other
        objects or field names, and keep Django's limit.)"""
        if not objs or not fields or not isinstance(objs[0], Model):
            return False
        model = type(objs[0])
        for field in fields:
            if getattr(field, "model", None) is not model or hasattr(field, "get_placeholder_sql"):
                return False
            target = field.target_field if field.is_relation else field
            if target.get_internal_type() not in self.connection.data_types:
                return False
        return not any(
            hasattr(getattr(obj, field.attname), "resolve_expression")
            for obj in objs
            for field in fields
        )


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
