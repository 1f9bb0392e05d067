"""DuckDB's own share of a subscriber load: one Parquet file of N subscriber rows, shaped as the connector
writes them, inserted as dlt's DuckDB loader does it (``INSERT INTO ... BY NAME SELECT * FROM read_parquet``)
in a fresh process held to a memory limit. Nothing of dlt or the connector runs, so what it prints is the
least any DuckDB load of those rows costs: the rise in peak RSS over the process's start and the CPU time.

    .venv/bin/python benchmarks/duckdb_insert.py --rows 100000 900000 --memory-limit 128MB
    .venv/bin/python benchmarks/duckdb_insert.py --rows --parquet PATH   # a file the connector wrote (--keep)
    .venv/bin/python benchmarks/duckdb_insert.py --rows --parquet PATH   # a file the connector wrote
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def subscriber_rows(count: int) -> pa.Table:
    """``count`` rows with the active_subscribers columns: text, two times, and custom fields as key/value entries."""
    emails = pa.array([f"person{i:08d}@example.com" for i in range(count)])
    keys = ["website", "age", "interests", "interests", "subscription date"]
    values = [
        f"https://{i * 7919 % 16**6:06x}.example.com|{i % 90}|news|offers|20{i % 25:02d}-10-07" for i in range(count)
    ]
    entries = pa.StructArray.from_arrays(
        [pa.array(keys * count), pa.array([part for value in values for part in value.split("|")])],
        names=["key", "value"],
    )
    times = pa.array([1_600_000_000_000_000 + i * 1_000_000 for i in range(count)], pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            "list_id": pa.repeat(pa.scalar("a" * 32), count),
            "email_address": emails,
            "client_id": pa.repeat(pa.scalar("b" * 32), count),
            "date": times,
            "list_joined_date": times,
            "custom_fields": pa.ListArray.from_arrays(pa.array(range(0, 5 * count + 1, 5), pa.int32()), entries),
            "name": pa.array([f"Person {i * 31337 % 10**7}" for i in range(count)]),
            "state": pa.repeat(pa.scalar("Active"), count),
            "reads_email_with": pa.repeat(pa.scalar("Gmail"), count),
        }
    )


def high_water_mb() -> float:
    """This process's peak RSS (``VmHWM``: ``ru_maxrss`` carries the parent's peak over an exec)."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def insert_alone(parquet: Path, database: Path, memory_limit: str) -> str:
    """Runs in the fresh process: the insert, and its rise in peak RSS (MB) and CPU seconds."""
    import duckdb

    before, start = resource.getrusage(resource.RUSAGE_SELF), high_water_mb()
    connection = duckdb.connect(str(database), config={"memory_limit": memory_limit})
    connection.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{parquet}') LIMIT 0")
    connection.execute("ALTER TABLE t ALTER custom_fields TYPE JSON")  # as dlt declares a nested column
    connection.execute(f"INSERT INTO t BY NAME SELECT * FROM read_parquet('{parquet}', union_by_name=true)")
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return f"peak RSS {high_water_mb():.0f} MB, {high_water_mb() - start:.0f} MB over its start; CPU {cpu:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 900_000])
    parser.add_argument("--memory-limit", default="128MB")
    parser.add_argument("--parquet", type=Path, help="also insert this file (one the connector wrote: --keep)")
    parser.add_argument("--alone", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.alone:
        print(insert_alone(Path(options.alone[0]), Path(options.alone[1]), options.memory_limit))
        return
    with tempfile.TemporaryDirectory() as folder:
        for count in options.rows:
            parquet, database = Path(folder) / f"{count}.parquet", Path(folder) / f"{count}.duckdb"
            pq.write_table(subscriber_rows(count), parquet)
            print(f"{count:>9,} rows, DuckDB held to {options.memory_limit}: {alone(parquet, database, options)}")
        if options.parquet:
            database = Path(folder) / "given.duckdb"
            print(
                f"{options.parquet}, DuckDB held to {options.memory_limit}: {alone(options.parquet, database, options)}"
            )


def alone(parquet: Path, database: Path, options: argparse.Namespace) -> str:
    """``insert_alone`` in a fresh process, so that its peak is the insert's and not this process's."""
    command = [sys.executable, __file__, "--memory-limit", options.memory_limit, "--alone", str(parquet), str(database)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
