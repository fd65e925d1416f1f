"""Neutron's database, migrated: a step of its own so that it runs while Keystone starts.

Neutron's migrations (``neutron-db-manage upgrade heads``, MySQL-only) are the longest part
of its start and need nothing but MariaDB; as part of ``neutron`` they would wait for
Keystone, RabbitMQ and the rest. No process of its own: ``healthy`` checks the schema.
"""

from __future__ import annotations

from testbed import ini
from testbed.bed import Bed, ServiceError
from testbed.services import mariadb

REQUIRES = ("mariadb",)
DATABASE = "neutron"


def start(bed: Bed) -> None:
    url = mariadb.create_database(bed, DATABASE)
    # The plugin options decide nothing here: every installed branch is migrated.
    conf = ini.write(bed.service_dir("neutron") / "db.conf", {"database": {"connection": url}})
    bed.run(
        "neutron_db",
        "neutron-db-manage",
        [bed.os_bin("neutron-db-manage"), "--config-file", str(conf), "upgrade", "heads"],
        timeout=400,
    )
    bed.record("neutron_db", {"connection": url})


def healthy(bed: Bed) -> bool:
    """Migrated at some point: the (expand and contract) heads are recorded."""
    try:
        heads = mariadb.query(bed, "SELECT COUNT(*) FROM neutron.alembic_version")
    except (ServiceError, KeyError):
        return False
    return heads == "2"
