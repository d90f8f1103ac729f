"""On PostgreSQL, the results table becomes a table partitioned by run (LIST on run_id).

Why: a run's chunks COPY up to a whole portfolio of rows at once, and with the table's 16
indexes, key and foreign keys five sixths of that time went on index upkeep (100,000 rows:
6.2 s into the shared table, 1.4 s into a bare one and 1.4 s more to build the same indexes
afterwards). Each new run now writes into a bare table of its own, whose indexes the finish
step builds (``analytics.services.partitions``).

The rows already stored stay where they are: the old table, renamed, becomes the partition
of every run that exists now, with its indexes and keys, so nothing is copied. Its identity
column gives way to a sequence owned by the new table (a partitioned table cannot have an
identity column on PostgreSQL 15), continuing where the identity was. The chart series stay
stored out of line (migration 0002): the column's storage comes with the new table, and each
run's partition is created with the small TOAST target. Elsewhere (SQLite) nothing changes.
"""

from django.db import migrations

TABLE = "analytics_customerresult"
LEGACY = f"{TABLE}_before_partitions"
SEQUENCE = f"{TABLE}_id_seq"


def partition_by_run(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run_ids = list(apps.get_model("analytics", "AnalysisRun").objects.values_list("pk", flat=True))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {TABLE}")
        (last_id,) = cursor.fetchone()
    run = schema_editor.execute
    run(f"ALTER TABLE {TABLE} RENAME TO {LEGACY}")
    run(f"ALTER TABLE {LEGACY} ALTER COLUMN id DROP IDENTITY IF EXISTS")
    run(
        f"CREATE TABLE {TABLE} (LIKE {LEGACY} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE) PARTITION BY LIST (run_id)"
    )
    run(f"CREATE SEQUENCE {SEQUENCE} OWNED BY {TABLE}.id")
    if last_id:
        run(f"SELECT setval('{SEQUENCE}', {int(last_id)})")
    run(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{SEQUENCE}')")
    if run_ids:
        values = ", ".join(str(int(pk)) for pk in run_ids)
        run(f"ALTER TABLE {TABLE} ATTACH PARTITION {LEGACY} FOR VALUES IN ({values})")
    else:
        run(f"DROP TABLE {LEGACY}")


def one_table_again(apps, schema_editor):
    """Back to one table with the declared indexes, every row kept."""
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("analytics", "CustomerResult")
    columns = ", ".join(
        schema_editor.quote_name(field.column) for field in model._meta.local_concrete_fields
    )
    run = schema_editor.execute
    run(f"CREATE TEMPORARY TABLE kept_results AS SELECT {columns} FROM {TABLE}")
    run(f"DROP TABLE {TABLE} CASCADE")
    schema_editor.create_model(model)
    run(f"INSERT INTO {TABLE} ({columns}) SELECT {columns} FROM kept_results")
    run(f"DROP TABLE kept_results")
    run(
        f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
        f"coalesce((SELECT max(id) FROM {TABLE}), 0) + 1, false)"
    )
    run(f"ALTER TABLE {TABLE} SET (fillfactor = 50, toast_tuple_target = 128)")
    run(f"ALTER TABLE {TABLE} ALTER COLUMN components SET STORAGE EXTERNAL")


class Migration(migrations.Migration):
    # DDL and data in one transaction: the run ids read and the partition bound agree.
    dependencies = [("analytics", "0009_dashboard_aggregates")]

    operations = [migrations.RunPython(partition_by_run, one_table_again)]
