"""The observation store: idempotent bulk writes on (series, time) and the latest value per series.

The first write of a (series, time) wins; a repeat is a duplicate and changes nothing. Observations are
facts as they were reported and shown: a retried push, an overlapping poll or a redelivered task must
never rewrite history. Forecast metrics (``forecast_*``) are the exception: a forecast is revised until
its time comes, so sources.services stores the newest value for those.

PostgreSQL: the rows are COPied into a session-local staging table and moved with one ``INSERT ...
SELECT ... ON CONFLICT DO NOTHING RETURNING`` per chunk. Other databases: multi-row ``INSERT ... ON
CONFLICT DO NOTHING RETURNING``.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Q

from .models import Observation, Series, Source

CHUNK = 10_000
SQLITE_CHUNK = 200
SMALL_BATCH = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)  # 4 parameters a row, well under SQLite's variable limit


def insert_observations(
    *, tenant_id: int, rows: list[tuple[int, datetime, float]]
) -> set[tuple[int, datetime]]:
    """Insert (series_id, time, value) rows; return the (series_id, time) keys that were new.

    Rows must be unique on (series_id, time) within the call (the caller reports repeats).
    """
    inserted: set[tuple[int, datetime]] = set()
    table = Observation._meta.db_table
    if connection.vendor == "postgresql":
        # In key order, so two transactions inserting the same keys (a batch sent again while the first is
        # still being stored) wait for each other in one order and cannot deadlock.
        rows = sorted(rows, key=lambda row: (row[0], row[1]))
        if len(rows) <= SMALL_BATCH:
            return _insert_postgresql_arrays(table, tenant_id, rows)
        return _insert_postgresql(table, tenant_id, rows)
    adapt = connection.ops.adapt_datetimefield_value
    by_text = {}
    with connection.cursor() as cursor:
        for start in range(0, len(rows), SQLITE_CHUNK):
            chunk = rows[start : start + SQLITE_CHUNK]
            params = []
            for series_id, time, value in chunk:
                text = adapt(time)
                by_text[(series_id, text)] = (series_id, time)
                params.extend([tenant_id, series_id, text, value])
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, series_id, time, value) VALUES {values} "  # noqa: S608
                "ON CONFLICT (series_id, time) DO NOTHING RETURNING series_id, time",
                params,
            )
            for series_id, returned in cursor.fetchall():
                if isinstance(returned, datetime):  # the driver parsed the stored UTC text back
                    returned = adapt(returned.replace(tzinfo=UTC))
                inserted.add(by_text[(series_id, returned)])
    return inserted


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def _server_cursor():
    """A psycopg cursor with server-side binding: arrays go as binary parameters instead of being quoted
    into the SQL text (Django's default client-side cursor), several times faster for 10,000 rows."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _insert_postgresql_arrays(table: str, tenant_id: int, rows) -> set[tuple[int, datetime]]:
    """Few rows (a typical poll): one round trip with array parameters beats staging through COPY."""
    with _server_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, series_id, time, value) "  # noqa: S608  (table name from the model)
            "SELECT %s, s, t, v FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[]) AS u(s, t, v) "
            "ON CONFLICT (series_id, time) DO NOTHING RETURNING series_id, time",
            [tenant_id, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
        )
        return set(cursor.fetchall())


def _insert_postgresql(table: str, tenant_id: int, rows) -> set[tuple[int, datetime]]:
    """COPY the rows into a session-local staging table, then one INSERT ... SELECT ... ON CONFLICT DO
    NOTHING. COPY's row formatting runs in C, so this is much faster than binding 10,000-element arrays;
    RETURNING the time as integer microseconds spares parsing thousands of timestamps back."""
    inserted: set[tuple[int, datetime]] = set()
    with _server_cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS csm_observation_in "
            "(series_id bigint, time timestamptz, value float8) ON COMMIT DELETE ROWS"
        )
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            with cursor.copy("COPY csm_observation_in (series_id, time, value) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, series_id, time, value) "  # noqa: S608  (table name from the model)
                "SELECT %s, series_id, time, value FROM csm_observation_in ORDER BY series_id, time "
                "ON CONFLICT (series_id, time) DO NOTHING "
                "RETURNING series_id, (extract(epoch FROM time) * 1000000)::bigint",
                [tenant_id],
            )
            returned = cursor.fetchall()
            cursor.execute("DELETE FROM csm_observation_in")
            if returned:
                by_micros = {(r[0], _micros(r[1])): r[1] for r in chunk}
                inserted.update((series_id, by_micros[(series_id, micros)]) for series_id, micros in returned)
    return inserted


def stored_values(*, keys: Iterable[tuple[int, datetime]]) -> dict[tuple[int, datetime], float]:
    """Values already stored for (series_id, time) keys (used to report conflicting duplicates).

    One ``time IN (...)`` query per series and chunk of times: an OR of one condition per key overflows
    SQLite's expression depth (1,000) on a large batch of duplicates.
    """
    times_by_series: dict[int, list[datetime]] = {}
    for series_id, time in keys:
        times_by_series.setdefault(series_id, []).append(time)
    found: dict[tuple[int, datetime], float] = {}
    for series_id, times in times_by_series.items():
        for start in range(0, len(times), STORED_VALUES_CHUNK):
            rows = Observation.objects.filter(
                series_id=series_id, time__in=times[start : start + STORED_VALUES_CHUNK]
            ).values_list("time", "value")
            found.update(((series_id, time), value) for time, value in rows)
    return found


STORED_VALUES_CHUNK = 500  # below SQLite's default limit of bound parameters per statement


def update_latest(
    *, source: Source, newest: dict[int, tuple[datetime, float]], data_time: datetime | None
) -> None:
    """Move each series' latest value forward (never back; a revised forecast replaces it), and the
    source's newest data time.

    ``data_time`` is the newest observed (not forecast) time, for the source's freshness.
    """
    if not newest:
        return
    if connection.vendor == "postgresql":
        # Concurrent pushes to the same series would otherwise lock their rows in the join's order and
        # can deadlock (seen with six pushers at once): take the row locks in id order first. The caller's
        # transaction (ingest) holds them until it commits.
        ids = sorted(newest)
        with _server_cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {Series._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE",  # noqa: S608
                [ids],
            )
            cursor.execute(
                f"UPDATE {Series._meta.db_table} AS s SET latest_time = u.t, latest_value = u.v "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[]) AS u(id, t, v) "
                "WHERE s.id = u.id AND (s.latest_time IS NULL OR s.latest_time <= u.t)",
                [ids, [newest[i][0] for i in ids], [newest[i][1] for i in ids]],
            )
    else:
        for series_id, (time, value) in newest.items():
            Series.objects.filter(pk=series_id).filter(
                Q(latest_time__isnull=True) | Q(latest_time__lte=time)
            ).update(latest_time=time, latest_value=value)
    if data_time is None:
        return
    newest_time = data_time
    Source.objects.filter(pk=source.pk).filter(
        Q(last_data_at__isnull=True) | Q(last_data_at__lt=newest_time)
    ).update(last_data_at=newest_time)
