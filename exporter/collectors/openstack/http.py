"""Raw GETs through an openstacksdk proxy, for the few calls the SDK has no resource for."""

from __future__ import annotations

from typing import Any

import openstack.exceptions as sdk_exc


def get_json(proxy: Any, path: str, **kwargs: Any) -> Any:
    """GET ``path`` relative to the proxy's endpoint; a non-2xx answer raises HttpException
    (with the status), as the SDK's own calls do."""
    response = proxy.get(path, raise_exc=False, **kwargs)
    if response.status_code >= 400:
        raise sdk_exc.HttpException(
            message=_message(response), response=response, http_status=response.status_code
        )
    return response.json()


def _message(response: Any) -> str:
    """The API's own error text (``All heat engines are down``), short."""
    try:
        body = response.json()
    except ValueError:
        return str(response.reason or "")[:200]
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict):
                inner = value.get("message") or value.get("explanation")
                if inner:
                    return str(inner)[:200]
        for key in ("message", "explanation", "title"):
            if body.get(key):
                return str(body[key])[:200]
    return str(response.reason or "")[:200]
