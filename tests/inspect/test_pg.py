"""`spotctl pg` against a real PostgreSQL: a table of the test's own, dropped afterwards."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.stack


@pytest.fixture
def table(stack: Any, uid: str) -> Iterator[str]:
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {uid} (id int PRIMARY KEY, name text NOT NULL, note text DEFAULT 'hi')")
        conn.execute(f"INSERT INTO {uid} VALUES (1, 'a', NULL), (2, 'b, with comma', 'x'), (3, 'c', 'y')")
        yield uid
        conn.execute(f"DROP TABLE IF EXISTS {uid}")


def count(stack: Any, table: str) -> int:
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]


def test_tables_lists_rows_and_size(cli, table: str) -> None:
    result = cli("pg", "tables", "--exact", "-o", "json")
    assert result.code == 0, result
    mine = next(t for t in result.json() if t["table"] == table)
    assert mine == {"schema": "public", "table": table, "rows": 3, "bytes": mine["bytes"], "rows_exact": True}
    assert mine["bytes"] > 0


def test_describe_shows_columns_indexes_and_constraints(cli, table: str) -> None:
    result = cli("pg", "describe", table, "-o", "json")
    assert result.code == 0, result
    desc = result.json()
    assert [(c["name"], c["type"], c["nullable"]) for c in desc["columns"]] == [
        ("id", "integer", False), ("name", "text", False), ("note", "text", True)]
    assert desc["columns"][2]["default"] == "'hi'::text"
    assert [i["name"] for i in desc["indexes"]] == [f"{table}_pkey"]
    assert "PRIMARY KEY (id)" in desc["constraints"][0]["definition"]

    missing = cli("pg", "describe", f"{table}_nope")
    assert missing.code == 1 and "does not exist" in missing.err and "Traceback" not in missing.err


def test_query_outputs_json_and_csv(cli, table: str) -> None:
    result = cli("pg", "query", f"SELECT id, name, note FROM {table} ORDER BY id", "-o", "json")
    assert result.code == 0, result
    body = result.json()
    assert body["columns"] == ["id", "name", "note"]
    assert body["rows"][0] == {"id": 1, "name": "a", "note": None}

    as_csv = cli("pg", "query", f"SELECT id, name FROM {table} ORDER BY id", "-o", "csv")
    assert list(csv.reader(io.StringIO(as_csv.out))) == [["id", "name"], ["1", "a"], ["2", "b, with comma"],
                                                         ["3", "c"]]
    from_stdin = cli("pg", "query", "-", "-o", "json", input=f"SELECT count(*) AS n FROM {table}")
    assert from_stdin.json()["rows"] == [{"n": 3}]


def test_query_limit_fetches_no_more_and_says_so(cli, table: str) -> None:
    limited = cli("pg", "query", f"SELECT id FROM {table} ORDER BY id", "--limit", "2", "-o", "json").json()
    assert [r["id"] for r in limited["rows"]] == [1, 2] and limited["truncated"] is True
    exact = cli("pg", "query", f"SELECT id FROM {table} ORDER BY id", "--limit", "3", "-o", "json").json()
    assert len(exact["rows"]) == 3 and exact["truncated"] is False
    shown = cli("pg", "query", f"SELECT id FROM {table} ORDER BY id", "-n", "1")
    assert shown.code == 0 and "1 row; the first 1 shown (--limit N, --all)" in shown.err


def test_query_is_read_only_unless_write(cli, stack: Any, table: str) -> None:
    refused = cli("pg", "query", f"DELETE FROM {table} WHERE id = 1")
    assert refused.code == 1 and "read-only" in refused.err and "--write" in refused.err
    assert count(stack, table) == 3

    unconfirmed = cli("pg", "query", f"DELETE FROM {table} WHERE id = 1", "--write")
    assert unconfirmed.refused() and count(stack, table) == 3  # off a terminal: --yes, or nothing runs

    done = cli("pg", "query", f"DELETE FROM {table} WHERE id = 1", "--write", "--yes", "-o", "json")
    assert done.code == 0, done
    assert done.json()["rowcount"] == 1 and done.json()["status"] == "DELETE 1" and done.json()["affected"] == 1
    assert count(stack, table) == 2
    table_out = cli("pg", "query", f"UPDATE {table} SET note = 'z'", "--write", "--yes")
    assert table_out.code == 0 and "UPDATE 2: 2 rows changed, committed" in table_out.err


def test_a_write_on_a_terminal_shows_the_rows_it_changed_and_asks(cli, stack: Any, table: str) -> None:
    declined = cli.tty("pg", "query", f"DELETE FROM {table}", "--write", answer="n\n")
    assert declined.code == 1 and "DELETE 3: 3 rows changed, not committed yet" in declined.out, declined
    assert "Commit (3 rows changed)?" in declined.out and "nothing was changed" in declined.out
    assert count(stack, table) == 3
    accepted = cli.tty("pg", "query", f"DELETE FROM {table} WHERE id > 1", "--write", answer="y\n")
    assert accepted.code == 0 and "DELETE 2: 2 rows changed, committed" in accepted.out, accepted
    assert count(stack, table) == 1


def test_a_select_shows_a_limited_number_of_rows_unless_asked(cli) -> None:
    sql = "SELECT g FROM generate_series(1, 501) AS g"
    default = cli("pg", "query", sql, "-o", "json").json()
    assert len(default["rows"]) == 500 and default["truncated"] is True
    shown = cli("pg", "query", sql, "--limit", "3")
    assert shown.code == 0 and "3 rows; the first 3 shown (--limit N, --all)" in shown.err
    everything = cli("pg", "query", sql, "--all", "-o", "csv")
    assert everything.code == 0 and len(everything.out.splitlines()) == 502 and everything.err == ""


def test_bad_sql_is_one_line(cli) -> None:
    result = cli("pg", "query", "SELEC 1")
    assert result.code == 1 and "syntax error" in result.err and "Traceback" not in result.err


def test_down_postgres_names_service_and_url(cli, closed_port) -> None:
    url = f"postgresql://spotify:***@127.0.0.1:{closed_port()}/spotify"
    result = cli("pg", "tables", "--url", url.replace("***", "spotify"))
    assert result.down("postgres", url)
