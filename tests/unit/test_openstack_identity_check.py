"""The identity check after a revoked token: keystoneauth logs in again on the 401 and repeats
the request, whose subject is still the revoked token; the check then validates the new one.
Without a 401 (Keystone's cache still takes the token) the check logs in itself."""

from __future__ import annotations

from typing import Any

import openstack.exceptions as sdk_exc
import pytest
import requests

from exporter.collectors.openstack.families import Scope
from exporter.collectors.openstack.health import _identity


def answer(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = "application/json"
    response._content = (
        b'{"error": {"message": "Could not find token"}}' if status == 404 else b"{}"
    )
    return response


class Keystone:
    """Knows only the tokens in ``valid``; records the subjects it was asked about."""

    def __init__(self, valid: set[str]) -> None:
        self.valid = valid
        self.subjects: list[str] = []

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        subject = kwargs["headers"]["X-Subject-Token"]
        self.subjects.append(subject)
        return answer(200 if subject in self.valid else 404)


SCOPE = Scope("c", "r")
OLD, NEW = "old-token", "new-token"


def no_login() -> str:
    raise AssertionError("no new login expected")


def test_after_a_login_the_new_token_is_validated() -> None:
    keystone = Keystone({NEW})
    assert _identity(SCOPE, keystone, token=OLD, current=lambda: NEW, renew=no_login) == []
    assert keystone.subjects == [OLD, NEW]


def test_a_token_unknown_without_a_401_logs_in_again_and_validates_the_new_one() -> None:
    """Keystone's cache still took the revoked token as our credential (no 401, so no login
    by keystoneauth), yet knows it no longer as a subject."""
    keystone = Keystone({NEW})
    logins: list[str] = []

    def renew() -> str:
        logins.append(NEW)
        return NEW

    assert _identity(SCOPE, keystone, token=OLD, current=lambda: OLD, renew=renew) == []
    assert logins == [NEW]
    assert keystone.subjects == [OLD, NEW]


def test_a_new_token_keystone_does_not_know_either_fails_the_check() -> None:
    keystone = Keystone(set())
    with pytest.raises(sdk_exc.HttpException) as caught:
        _identity(SCOPE, keystone, token=OLD, current=lambda: OLD, renew=lambda: NEW)
    assert caught.value.status_code == 404
    assert keystone.subjects == [OLD, NEW]


def test_a_valid_token_is_asked_about_once() -> None:
    keystone = Keystone({OLD})
    _identity(SCOPE, keystone, token=OLD, current=lambda: NEW, renew=no_login)
    assert keystone.subjects == [OLD]
