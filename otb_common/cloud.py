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


def describe(exc: BaseException) -> str:  # noqa: PLR0911 - one return per kind of failure reads best
    """One secret-free line saying why a call failed, in the words an operator acts on."""
    import openstack.exceptions as sdk_exc  # noqa: PLC0415 - openstacksdk loads only where a cloud is used
    from keystoneauth1 import exceptions as ksa_exc  # noqa: PLC0415 - as above

    if isinstance(exc, ksa_exc.SSLError):
        return f"TLS: {_first_line(exc)}"
    if isinstance(exc, (ksa_exc.ConnectTimeout, ksa_exc.RequestTimeout)):
        return "timed out (api_timeout)"
    if isinstance(exc, ksa_exc.ConnectFailure):
        text = str(exc)
        if "Name or service not known" in text or "NameResolution" in text or "getaddrinfo" in text:
            return "DNS: cannot resolve the host"
        if "Connection refused" in text:
            return "connection refused"
        return f"cannot connect: {_first_line(exc)}"
    if isinstance(exc, ksa_exc.EndpointNotFound):
        return "the catalog lacks this service (for this region and interface)"
    code = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    if isinstance(exc, ksa_exc.Unauthorized) or code == 401:
        return "401 unauthorized: credentials refused"
    if isinstance(exc, ksa_exc.Forbidden) or code == 403:
        return "403 forbidden: needs the admin or reader role"
    if isinstance(exc, (sdk_exc.HttpException, ksa_exc.HttpError)) and code:
        return f"HTTP {code}: {_first_line(exc)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]
