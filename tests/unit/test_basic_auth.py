"""Basic auth costs the same bcrypt work whether the user is unknown or the password wrong.

Timing is not asserted (a wall clock on a shared machine proves nothing); the work is: every
check of well-formed credentials runs exactly one ``bcrypt.checkpw``, whoever the user is.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import bcrypt
import pytest

from otb_common.webconfig import BasicAuth

ROUNDS = 4  # the cheapest cost bcrypt allows: the tests count calls, not time


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The hashes each ``bcrypt.checkpw`` call was given, the real function still deciding."""
    calls: list[bytes] = []
    real: Callable[[bytes, bytes], bool] = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


@pytest.fixture
def auth() -> BasicAuth:
    return BasicAuth({"prometheus": bcrypt.hashpw(b"right", bcrypt.gensalt(ROUNDS))})


def test_unknown_user_costs_one_bcrypt_check_like_a_wrong_password(
    auth: BasicAuth, checkpw_calls: list[bytes]
) -> None:
    assert not auth.check(header("prometheus", "wrong"))
    wrong_password = list(checkpw_calls)
    checkpw_calls.clear()
    assert not auth.check(header("nobody", "wrong"))
    unknown_user = list(checkpw_calls)
    assert len(wrong_password) == len(unknown_user) == 1
    # The stand-in hash has the configured cost, so the one check takes as long.
    assert unknown_user[0][:7] == wrong_password[0][:7] == f"$2b${ROUNDS:02d}$".encode()


def test_every_unknown_user_attempt_pays_bcrypt(
    auth: BasicAuth, checkpw_calls: list[bytes]
) -> None:
    for _ in range(3):
        assert not auth.check(header("nobody", "right"))
    assert len(checkpw_calls) == 3


def test_the_verified_cache_never_accepts_an_unknown_user(
    auth: BasicAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even a checker that says yes to anything (the worst the stand-in hash could do) must
    # not let an unknown user in, now or from the cache later.
    monkeypatch.setattr(bcrypt, "checkpw", lambda _password, _hashed: True)
    for _ in range(2):
        assert not auth.check(header("nobody", "anything"))
        assert not auth.check(header("", "anything"))
    assert auth.check(header("prometheus", "anything"))  # known user: the checker decides


def test_a_good_password_is_checked_once_then_remembered(
    auth: BasicAuth, checkpw_calls: list[bytes]
) -> None:
    for _ in range(3):
        assert auth.check(header("prometheus", "right"))
    assert len(checkpw_calls) == 1
    assert not auth.check(header("prometheus", "wrong"))
    assert len(checkpw_calls) == 2


def test_the_stand_in_hash_takes_the_highest_configured_cost(
    checkpw_calls: list[bytes],
) -> None:
    auth = BasicAuth(
        {
            "a": bcrypt.hashpw(b"x", bcrypt.gensalt(4)),
            "b": bcrypt.hashpw(b"x", bcrypt.gensalt(5)),
        }
    )
    assert not auth.check(header("nobody", "x"))
    assert checkpw_calls[0].startswith(b"$2b$05$")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "Bearer abc",
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_malformed_headers_are_refused(
    auth: BasicAuth, checkpw_calls: list[bytes], value: str | None
) -> None:
    assert not auth.check(value)


def test_no_users_means_no_auth() -> None:
    assert BasicAuth({}).check(None)
