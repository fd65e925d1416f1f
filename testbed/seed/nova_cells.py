"""``nova-manage api_db sync``, ``cell_v2 map_cell0`` and ``cell_v2 create_cell`` in one process.

Runs in the OpenStack environment: the same command objects nova-manage dispatches to, with
Nova imported once instead of three times. Arguments: the nova.conf path, the cell0 database
URL and the cell name. Safe to re-run: an existing cell0 or cell of that name is kept.
"""

from __future__ import annotations

import sys

from nova import config, objects  # type: ignore[import-untyped,import-not-found,unused-ignore]
from nova.cmd import manage  # type: ignore[import-untyped,import-not-found,unused-ignore]

# create_cell: 2 means a cell with this broker and database already exists.
CELL_EXISTS = 2


def main() -> int:
    conf, cell0_url, cell_name = sys.argv[1:4]
    config.parse_args(["nova-manage", "--config-file", conf])
    objects.register_all()
    manage.ApiDbCommands().sync()
    cells = manage.CellV2Commands()
    if cells.map_cell0(database_connection=cell0_url) != 0:
        return 1
    created: int = cells.create_cell(name=cell_name)
    return 0 if created in (0, CELL_EXISTS) else created


if __name__ == "__main__":
    sys.exit(main())
