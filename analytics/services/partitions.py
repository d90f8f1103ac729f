"""Each run's results in a table of its own, indexed once they are all written (PostgreSQL).

On PostgreSQL the results table is partitioned by run (LIST on ``run_id``, migration 0010).
A run's partition is created with the run, with one index — its unique (run, customer) — and
no key or foreign key, so the chunks' COPY pays almost no index upkeep. The finish step
then builds the partition's other indexes and constraints — the model's own declarations
(``CustomerResult.Meta``, the foreign keys and the customer index), pointed at the
partition — before the run succeeds, so a page never reads an unindexed run. Measured on
100,000 results: COPY into the shared table with its 16 indexes 6.2 s; into a bare table
1.4 s, and 1.4 s more to build the same indexes (about 3 s in a run, beside segmenting).

Deleting a run drops its partition. The partition of the runs that existed before the
migration keeps them all, with its indexes. On other databases (SQLite) the table is one
plain table with its declared indexes, and every function here does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import ForeignKey, UniqueConstraint

from analytics.models import CustomerResult

RESULTS = CustomerResult._meta.db_table
NAME_LIMIT = 63  # PostgreSQL's identifier length
UNIQUE, OTHER = "unique", "other"  # built with the partition / by the finish step


def is_partitioned() -> bool:
    """Whether this database stores results per run (PostgreSQL after migration 0010)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [RESULTS])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partition_name(run_id: int) -> str:
    return f"{RESULTS}_r{int(run_id)}"


def partition_create(*, run_id: int) -> None:
    """The run's own table, with one index: its unique (run, customer), so that a customer
    never has two results in a run, even while the chunks write (it also serves a chunk's
    delete of its range). It keeps the shared table's storage settings (migrations 0002 and
    0003): half-full pages leave room for the finish step's segment update to stay in place
    (HOT); the chart series' column is EXTERNAL (from the parent) with a small TOAST target,
    though PostgreSQL toasts only rows over ~2 kB, so in fact a row is ~830 bytes inline."""
    if not is_partitioned():
        return
    table = partition_name(run_id)
    with connection.cursor() as cursor:
        # Made apart, then attached: CREATE TABLE … PARTITION OF would lock the whole results
        # table against every reader and writer until this transaction ends; ATTACH takes a
        # lock that lets them be (SHARE UPDATE EXCLUSIVE).
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (LIKE {RESULTS} INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS INCLUDING STORAGE) "
            "WITH (fillfactor = 50, toast_tuple_target = 128)"
        )
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = %s::regclass)",
                       [table])  # fmt: skip
        if not cursor.fetchone()[0]:
            cursor.execute(
                f"ALTER TABLE {RESULTS} ATTACH PARTITION {table} FOR VALUES IN ({int(run_id)})"
            )
    _build_missing(run_id, kinds=(UNIQUE,))


def partition_drop(*, run_id: int) -> None:
    """Detach and drop the run's table once the deletion commits (its rows' deferred
    foreign-key checks are pending until then, and PostgreSQL drops no table with pending
    events). Detached CONCURRENTLY, the results table stays open to everyone else; inside
    an outer transaction (a test's) it cannot be, and is detached plainly."""
    if not is_partitioned():
        return

    def drop() -> None:
        table = partition_name(run_id)
        concurrently = "" if connection.in_atomic_block else " CONCURRENTLY"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s))",
                [table],
            )
            if cursor.fetchone()[0]:
                cursor.execute(f"ALTER TABLE {RESULTS} DETACH PARTITION {table}{concurrently}")
            cursor.execute(f"DROP TABLE IF EXISTS {table}")

    transaction.on_commit(drop)


def partition_index(*, run_id: int) -> int:
    """Build what the run's partition lacks of the declared indexes and constraints (each
    statement on its own, so a retry after a crash builds only the rest); returns how many
    statements ran. Nothing to do for a run stored in the partition of older runs."""
    if not is_partitioned():
        return 0
    return _build_missing(run_id, kinds=(UNIQUE, OTHER))


def _build_missing(run_id: int, *, kinds: tuple[str, ...]) -> int:
    table = partition_name(run_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = to_regclass(%s) "
            "UNION SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s)",
            [table, table],
        )
        present = {name for (name,) in cursor.fetchall()}
        built = 0
        for kind, name, sql in partition_statements(run_id):
            if kind in kinds and name not in present:
                cursor.execute(sql)
                built += 1
    return built


def partition_index_begin(*, run_id: int) -> Callable[[], float]:
    """Start building the run's partition's indexes beside the caller's work, and return
    the function that waits for them (it returns the seconds the build took and raises
    what the build raised).

    The building happens in a PostgreSQL process, so on its own connection in a thread it
    overlaps the caller's segmenting on the other core. Inside an open transaction (a
    test's) another connection could not see the partition: it is built right away."""
    clock = time.perf_counter()
    if connection.in_atomic_block or not is_partitioned():
        partition_index(run_id=run_id)
        seconds = time.perf_counter() - clock
        return lambda: seconds

    def build() -> float:
        try:
            partition_index(run_id=run_id)
            return time.perf_counter() - clock
        finally:
            connections.close_all()  # this thread's own connection

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"index-run-{run_id}")
    future = pool.submit(build)
    pool.shutdown(wait=False)
    return future.result


def partition_analyze(*, run_id: int) -> None:
    """Fresh planner statistics for the run's partition (ANALYZE on the partitioned table
    would sample every run's)."""
    if not is_partitioned():
        return
    table = partition_name(run_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        if cursor.fetchone()[0]:
            cursor.execute(f"ANALYZE {table}")


def partition_statements(run_id: int) -> list[tuple[str, str, str]]:
    """(UNIQUE or OTHER, name, SQL) of each index and constraint the model declares, for
    the run's partition: the primary key, the foreign keys with the customer's index, the
    Meta indexes and the unique constraints (check constraints come with the partition)."""
    table = partition_name(run_id)
    model = CustomerResult
    # The schema editor's own builders (two of them private, typed loosely by the stubs):
    # the same SQL Django writes for the model's table, then pointed at the partition.
    with connection.schema_editor() as schema_editor:
        editor: Any = schema_editor
        statements: list[Any] = []  # Statement objects
        for field in model._meta.local_fields:
            statements.extend(editor._field_indexes_sql(model, field))
            if isinstance(field, ForeignKey) and getattr(field, "db_constraint", True):
                statements.append(
                    editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s")
                )
        statements.extend(index.create_sql(model, editor) for index in model._meta.indexes)
        unique = len(statements)
        statements.extend(
            constraint.create_sql(model, editor)
            for constraint in model._meta.constraints
            if isinstance(constraint, UniqueConstraint)
        )
        named = []
        for position, statement in enumerate(statements):
            name = _suffixed(str(statement.parts["name"]).strip('"'), run_id)
            statement.rename_table_references(RESULTS, table)
            statement.parts["name"] = editor.quote_name(name)
            named.append((UNIQUE if position >= unique else OTHER, name, str(statement)))
        key = _suffixed(f"{RESULTS}_pkey", run_id)
        primary = f"ALTER TABLE {table} ADD CONSTRAINT {key} PRIMARY KEY (id)"
    return [(OTHER, key, primary), *named]


def _suffixed(name: str, run_id: int) -> str:
    suffix = f"_r{int(run_id)}"
    return name[: NAME_LIMIT - len(suffix)] + suffix
