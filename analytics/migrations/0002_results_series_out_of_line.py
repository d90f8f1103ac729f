"""Keep the chart series out of the result rows on PostgreSQL.

A result row was ~800 bytes, 584 of them the packed chart series; sorting the risk table
on a column without an index read every row of the run. With the series stored out of
line (EXTERNAL: no compression, float data does not compress) and a small TOAST target,
a row is ~250 bytes and such sorts read a third of the data. SQLite ignores this.
"""

from __future__ import annotations

from django.db import migrations


def out_of_line(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE analytics_customerresult ALTER COLUMN components SET STORAGE EXTERNAL"
    )
    schema_editor.execute("ALTER TABLE analytics_customerresult SET (toast_tuple_target = 128)")


def inline(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE analytics_customerresult ALTER COLUMN components SET STORAGE EXTENDED"
    )
    schema_editor.execute("ALTER TABLE analytics_customerresult RESET (toast_tuple_target)")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]
    operations = [migrations.RunPython(out_of_line, inline)]
