"""OpenStack sessions, through openstacksdk only (clouds.yaml, secure.yaml, ``OS_*``).

One long-lived connection per cloud: openstacksdk reuses its Keystone token until near its
expiry and re-authenticates on a 401, so a caller never logs in per request. ``api_timeout``
is always set, so no request waits forever on an API that hangs.
"""

from __future__ import annotations

from typing import Any


class CloudError(Exception):
    """The cloud cannot be used: unknown in clouds.yaml, or refused. Safe to log."""


def cloud_errors() -> tuple[type[Exception], ...]:
    """What openstacksdk and keystoneauth raise for a cloud or API that fails: the errors to
    catch, narrowly, around any call on a connection."""
    import openstack.exceptions  # noqa: PLC0415 - openstacksdk loads only where a cloud is used
    from keystoneauth1 import exceptions as ksa_exc  # noqa: PLC0415 - as above

    return (openstack.exceptions.SDKException, ksa_exc.ClientException)


def connect(
    cloud: str,
    api_timeout: float,
    *,
    region: str | None = None,
    interface: str | None = None,
) -> Any:
    """A connection to ``cloud``; ``region`` and ``interface`` override clouds.yaml's only
    when given. Nothing is requested yet: authentication happens on first use."""
    import openstack  # noqa: PLC0415 - openstacksdk loads only where a cloud is used

    overrides: dict[str, Any] = {}
    if region:
        overrides["region_name"] = region
    if interface:
        overrides["interface"] = interface
    try:
        return openstack.connect(cloud=cloud, api_timeout=api_timeout, **overrides)
    except cloud_errors() as exc:
        raise CloudError(f"cloud {cloud!r}: {exc}") from None
