"""MariaDB 10.11 from Debian, a private server for what cannot use PostgreSQL (Neutron's
migrations are MySQL-only).

A throwaway server: every durability setting is off (no doublewrite, no binary log, no log
flush at commit), buffers are small, TCP on loopback only. MariaDB still syncs its DDL log
and redo log on every DDL statement (some 5,000 fsyncs for Neutron's migrations, which
makes them several times slower on a busy disk); with Debian's ``eatmydata`` installed,
its ``libeatmydata.so`` is preloaded to turn those into no-ops. ``mariadbd`` runs in the
foreground as user ``mysql``, so the pid we record is the server's own (``mysqld_safe``
would fork it away).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
from pathlib import Path

from testbed.bed import Bed, ServiceError

REQUIRES: tuple[str, ...] = ()
SERVER = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
CLIENT = "/usr/bin/mariadb"
USER = "mysql"
DB_USER = "testbed"
EATMYDATA = "/usr/lib/*/libeatmydata.so*"

# Durability costs most of the time of a schema migration; none of it matters here.
SETTINGS: dict[str, object] = {
    "skip-name-resolve": True,
    "skip-log-bin": True,
    "innodb_flush_log_at_trx_commit": 0,
    "innodb_flush_method": "nosync",
    "innodb_doublewrite": 0,
    "innodb_buffer_pool_size": "32M",
    "innodb_log_file_size": "32M",
    "innodb_log_buffer_size": "4M",
    "innodb_adaptive_hash_index": 0,
    "sync_binlog": 0,
    "sync_frm": 0,
    "key_buffer_size": "1M",
    "performance_schema": "OFF",
    "log_warnings": 1,
    "max_connections": 300,
    "character-set-server": "utf8mb4",
    "collation-server": "utf8mb4_general_ci",
}


def _owned_by_mysql(path: Path) -> None:
    entry = pwd.getpwnam(USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _write_config(bed: Bed, base: Path) -> Path:
    run = base / "run"
    lines = [
        "[mariadbd]",
        f"datadir = {base / 'data'}",
        f"socket = {run / 'mariadb.sock'}",
        f"pid-file = {run / 'mariadb.pid'}",
        "bind-address = 127.0.0.1",
        f"port = {bed.port('mariadb')}",
    ]
    for key, value in SETTINGS.items():
        lines.append(key if value is True else f"{key} = {value}")
    conf = base / "my.cnf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def _no_fsync_env() -> dict[str, str] | None:
    found = sorted(glob.glob(EATMYDATA))
    return {"LD_PRELOAD": found[0]} if found else None


def start(bed: Bed) -> None:
    for binary in (SERVER, INSTALL_DB, CLIENT):
        if not os.access(binary, os.X_OK):
            raise ServiceError("mariadb", f"{binary} missing (Debian package mariadb-server)")
    base = bed.service_dir("mariadb")
    data, run = base / "data", base / "run"
    conf = _write_config(bed, base)
    env = _no_fsync_env()
    for path in (base, run):
        path.mkdir(exist_ok=True)
        _owned_by_mysql(path)
    if not (data / "mysql").is_dir():
        if data.exists():
            shutil.rmtree(data)
        data.mkdir()
        _owned_by_mysql(data)
        bed.run(
            "mariadb",
            "mariadb-install-db",
            [
                INSTALL_DB, f"--defaults-file={conf}", "--skip-test-db", "--skip-name-resolve",
                "--auth-root-authentication-method=socket", "--auth-root-socket-user=root",
            ],
            user=USER,
            env=env,
            timeout=120,
        )  # fmt: skip
    port = bed.port("mariadb")
    proc = bed.spawn("mariadb", "mariadb", [SERVER, f"--defaults-file={conf}"], user=USER, env=env)
    bed.wait_tcp(proc, port, timeout=60)
    socket = run / "mariadb.sock"
    bed.wait(proc, "mariadb accepting queries", lambda: _query(bed, socket, "SELECT 1") == "1")
    password = bed.secret("mariadb", "testbed-maria")
    _query(
        bed,
        socket,
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{password}';"
        f" GRANT ALL PRIVILEGES ON *.* TO '{DB_USER}'@'127.0.0.1';",
    )
    bed.record(
        "mariadb",
        {
            "port": port,
            "socket": str(socket),
            "user": DB_USER,
            "password": password,
            "url": f"mysql://127.0.0.1:{port}",
            "fsync": "off (eatmydata)" if env else "on for DDL",
        },
    )


def _query(bed: Bed, socket: Path | str, sql: str) -> str:
    """As MariaDB's root over the socket (root is authenticated by its Unix user)."""
    out = bed.run(
        "mariadb",
        "mariadb-client",
        [CLIENT, f"--socket={socket}", "--user=root", "--batch", "--skip-column-names", "-e", sql],
        timeout=30,
    )
    return out.strip()


def query(bed: Bed, sql: str) -> str:
    """Run ``sql`` as MariaDB's root; its result rows, tab-separated, without headers."""
    return _query(bed, bed.info("mariadb")["socket"], sql)


def create_database(bed: Bed, name: str) -> str:
    """Create database ``name`` if absent; return its SQLAlchemy URL (PyMySQL driver)."""
    info = bed.info("mariadb")
    query(bed, f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    return (
        f"mysql+pymysql://{info['user']}:{info['password']}@127.0.0.1:{info['port']}/{name}"
        "?charset=utf8mb4"
    )


def healthy(bed: Bed) -> bool:
    try:
        return query(bed, "SELECT 1") == "1"
    except ServiceError:
        return False
