"""A keystoneauth session from the usual ``OS_*`` variables, for the seed scripts.

The orchestrator passes the admin credentials in the environment rather than on the
command line, so they do not show up in ``ps`` (``testbed.services.keystone.client_env``).
"""

from __future__ import annotations

import os
from typing import Any

from keystoneauth1 import session as ks_session  # type: ignore[import-untyped,import-not-found,unused-ignore]
from keystoneauth1.identity import v3  # type: ignore[import-untyped,import-not-found,unused-ignore]


def session() -> Any:
    auth = v3.Password(
        auth_url=os.environ["OS_AUTH_URL"],
        username=os.environ["OS_USERNAME"],
        password=os.environ["OS_PASSWORD"],
        project_name=os.environ["OS_PROJECT_NAME"],
        user_domain_name=os.environ.get("OS_USER_DOMAIN_NAME", "Default"),
        project_domain_name=os.environ.get("OS_PROJECT_DOMAIN_NAME", "Default"),
    )
    # Every request bounded: a wedged service fails the seed instead of hanging it.
    return ks_session.Session(auth=auth, timeout=30)


def connect() -> Any:
    """An openstacksdk connection with the same credentials; every call bounded by a timeout."""
    import openstack  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415 - only some scripts need it

    return openstack.connection.Connection(
        session=session(),
        region_name=os.environ.get("OS_REGION_NAME", "RegionOne"),
        interface="public",
        api_timeout=30,
    )


def adapter_options() -> dict[str, str]:
    """Endpoints come from the catalog, as a real client finds them."""
    return {"region_name": os.environ.get("OS_REGION_NAME", "RegionOne"), "interface": "public"}
