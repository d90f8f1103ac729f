"""Each run's results in a partition of their own (PostgreSQL): written with one index,
indexed by the finish step before anyone reads them, dropped with the run; and the
migration that partitions the table keeps every row in both directions."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from analytics.core import Params
from analytics.models import AnalysisRun, CustomerResult, RunStatus
from analytics.services import (
    analysis_chunk_run,
    analysis_run_claim,
    analysis_run_finish,
    analysis_run_plan,
    analysis_run_start,
)
from analytics.services.partitions import (
    RESULTS,
    is_partitioned,
    partition_name,
    partition_statements,
)
from customers.models import Customer

from .helpers import import_portfolio

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def indexes_of(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def constraints_of(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s)", [table]
        )
        return {name for (name,) in cursor.fetchall()}


def table_exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return cursor.fetchone()[0]


def planned_run(team, upload) -> AnalysisRun:
    run = AnalysisRun.objects.create(
        team=team,
        window_start=upload.first_month,
        window_end=upload.last_month,
        params=Params().as_dict(),
    )
    run = analysis_run_claim(run_id=run.pk)
    assert run is not None and analysis_run_plan(run=run) is not None
    return AnalysisRun.objects.get(pk=run.pk)


def test_a_run_writes_into_its_own_partition_which_finish_indexes_before_it_succeeds(team_a):
    assert is_partitioned()
    run = planned_run(team_a, import_portfolio(team_a, customers=40, seed=5))
    table = partition_name(run.pk)
    for number in range(run.chunks_total):
        assert analysis_chunk_run(run_id=run.pk, number=number) == "done"

    # While the chunks write: the rows are in the run's table, with its unique index only.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        assert cursor.fetchone()[0] == 40 == CustomerResult.objects.filter(run=run).count()
    assert [name for name in indexes_of(table)] == [f"result_unique_run_customer_r{run.pk}"]
    with connection.cursor() as cursor:  # the shared table's storage settings, kept
        cursor.execute(
            "SELECT attstorage, (SELECT reloptions FROM pg_class WHERE oid = attrelid) "
            "FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'components'",
            [table],
        )
        storage, options = cursor.fetchone()
    assert storage == "e" and set(options) == {"fillfactor=50", "toast_tuple_target=128"}

    assert analysis_run_finish(run_id=run.pk) == RunStatus.SUCCEEDED
    declared = {name for _, name, _ in partition_statements(run.pk)}
    built = set(indexes_of(table)) | constraints_of(table)
    assert declared <= built
    # Every declared index of the model, on the partition, with the same columns.
    for index in CustomerResult._meta.indexes:
        definition = indexes_of(table)[f"{index.name}_r{run.pk}"]
        assert f"({', '.join(f.replace('run', 'run_id') for f in index.fields)})" in definition
    # The risk table's default order can read the partition's level index, no sort (told
    # to avoid a scan and a sort: with 40 rows the planner would rightly prefer them).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(
            f"EXPLAIN SELECT id FROM {RESULTS} WHERE run_id = %s AND decline_level IS NOT NULL "
            "ORDER BY decline_level DESC, id DESC LIMIT 25",
            [run.pk],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"result_sort_level_r{run.pk}" in plan and "Sort" not in plan


def test_a_customer_never_has_two_results_in_a_run_even_while_its_chunks_write(team_a):
    run = planned_run(team_a, import_portfolio(team_a, customers=10, seed=5))
    customer = Customer.objects.filter(team=team_a).first()
    CustomerResult.objects.create(run=run, customer=customer, decline_level=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerResult.objects.create(run=run, customer=customer, decline_level=2)


def test_deleting_a_run_drops_its_partition_and_keeps_the_others(team_a):
    import_portfolio(team_a, customers=20, seed=5)
    kept = analysis_run_start(team=team_a, params=Params())
    gone = analysis_run_start(team=team_a, params=Params())
    assert kept.status == gone.status == RunStatus.SUCCEEDED
    gone_table = partition_name(gone.pk)
    gone.delete()
    assert not table_exists(gone_table)
    assert table_exists(partition_name(kept.pk))
    assert CustomerResult.objects.filter(run=kept).count() == 20


def test_the_migration_keeps_every_result_both_ways_and_new_runs_get_their_own_table(team_a):
    """Back to one table and forward again: the rows of the runs that existed stay (in the
    partition of older runs), a new run gets its own table, and ids keep counting up."""
    import_portfolio(team_a, customers=20, seed=5)
    before = analysis_run_start(team=team_a, params=Params())
    rows = sorted(CustomerResult.objects.values_list("id", "run_id", "customer_id"))
    try:
        call_command("migrate", "analytics", "0009", verbosity=0)
        assert not is_partitioned()
        assert sorted(CustomerResult.objects.values_list("id", "run_id", "customer_id")) == rows
        call_command("migrate", "analytics", verbosity=0)
    finally:
        call_command("migrate", verbosity=0)
    assert is_partitioned()
    assert sorted(CustomerResult.objects.values_list("id", "run_id", "customer_id")) == rows
    assert indexes_of(f"{RESULTS}_before_partitions")  # the old table, indexes and all
    after = analysis_run_start(team=team_a, params=Params())
    assert after.status == RunStatus.SUCCEEDED
    assert table_exists(partition_name(after.pk)) and not table_exists(partition_name(before.pk))
    new_ids = CustomerResult.objects.filter(run=after).values_list("id", flat=True)
    assert min(new_ids) > max(row[0] for row in rows)


def test_a_new_run_waits_for_no_one_reading_or_writing_other_runs_results(team_a):
    """Creating (attaching) a run's partition takes a lock that readers and writers of the
    results table do not hold: with a page's read and a chunk's write of another run left
    open, a run is still created (CREATE TABLE … PARTITION OF would wait for both)."""
    import psycopg

    upload = import_portfolio(team_a, customers=10, seed=5)
    other = planned_run(team_a, upload)
    customer = Customer.objects.filter(team=team_a).first()
    settings = connection.settings_dict
    dsn = dict(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
               dbname=settings["NAME"], password=settings["PASSWORD"] or None)  # fmt: skip
    with psycopg.connect(**dsn) as reader, psycopg.connect(**dsn) as writer:
        reader.execute(f"SELECT count(*) FROM {RESULTS}").fetchone()  # transaction left open
        writer.execute(
            f"INSERT INTO {RESULTS} (run_id, customer_id, active_months, n_months, churned, "
            "revenue_at_risk, anomaly_count, explanation) VALUES (%s, %s, 0, 0, false, 0, 0, '')",
            [other.pk, customer.pk],
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        try:
            run = AnalysisRun.objects.create(
                team=team_a,
                window_start=upload.first_month,
                window_end=upload.last_month,
                params=Params().as_dict(),
            )
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        reader.rollback()
        writer.rollback()
    assert table_exists(partition_name(run.pk))
