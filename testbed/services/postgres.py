"""PostgreSQL 15 from Debian: one cluster for every service that supports it, trust auth on
loopback only (a throwaway cluster), fsync off."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import threading

from testbed.bed import Bed, ServiceError

REQUIRES: tuple[str, ...] = ()
BIN = "/usr/lib/postgresql/15/bin"
USER = "postgres"
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_create_lock = threading.Lock()


def _owned_by_postgres(path: os.PathLike[str] | str) -> None:
    entry = pwd.getpwnam(USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def start(bed: Bed) -> None:
    if not os.path.exists(f"{BIN}/postgres"):
        raise ServiceError("postgres", f"{BIN}/postgres missing (Debian package postgresql-15)")
    base = bed.service_dir("postgres")
    data, sockets = base / "data", base / "run"
    for path in (base, sockets):
        path.mkdir(exist_ok=True)
        _owned_by_postgres(path)
    if not (data / "PG_VERSION").exists():
        if data.exists():
            shutil.rmtree(data)
        bed.run(
            "postgres",
            "postgres-initdb",
            [
                f"{BIN}/initdb",
                "-D",
                str(data),
                "-U",
                USER,
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            user=USER,
        )
    port = bed.port("postgres")
    proc = bed.spawn(
        "postgres",
        "postgres",
        [
            f"{BIN}/postgres",
            "-D", str(data),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"port={port}",
            "-c", f"unix_socket_directories={sockets}",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=500",
            "-c", "shared_buffers=64MB",
        ],
        user=USER,
    )  # fmt: skip
    bed.wait_tcp(proc, port, timeout=30)
    bed.wait(
        proc, "postgres accepting queries", lambda: _query(bed, port, sockets, "SELECT 1") == "1"
    )
    bed.record(
        "postgres",
        {"port": port, "socket_dir": str(sockets), "url": f"postgresql://127.0.0.1:{port}"},
    )


def _query(bed: Bed, port: int, sockets: object, sql: str, database: str = "postgres") -> str:
    out = bed.run(
        "postgres",
        "postgres-psql",
        ["psql", "-h", str(sockets), "-p", str(port), "-U", USER, "-d", database, "-tAc", sql],
        user=USER,
        timeout=30,
    )
    return out.strip()


def query(bed: Bed, database: str, sql: str) -> str:
    """``sql`` run in ``database`` as the superuser; the rows as psql's unaligned text."""
    info = bed.info("postgres")
    return _query(bed, info["port"], info["socket_dir"], sql, database)


def create_database(bed: Bed, name: str) -> str:
    """Create database ``name`` if absent; return its SQLAlchemy URL (psycopg2 driver)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a plain database name: {name!r}")
    info = bed.info("postgres")
    port, sockets = info["port"], info["socket_dir"]
    exists = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 - checked name
    with _create_lock:  # one CREATE DATABASE at a time: each copies template1
        if _query(bed, port, sockets, exists) != "1":
            _query(bed, port, sockets, f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg2://{USER}@127.0.0.1:{port}/{name}"


def healthy(bed: Bed) -> bool:
    info = bed.info("postgres")
    try:
        return _query(bed, info["port"], info["socket_dir"], "SELECT 1") == "1"
    except ServiceError:
        return False
