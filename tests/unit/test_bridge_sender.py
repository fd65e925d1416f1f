"""The sender's client against a stand-in Alertmanager on 127.0.0.1 (tests/support/front.py):
a long error answer leaves the connection usable."""

from __future__ import annotations

import pytest

from alerts.sender import AlertmanagerClient, RefusedError
from tests.support.front import front

# An error answer longer than the 2 KiB the client used to read.


@pytest.mark.parametrize("size", [3 * 1024, 256 * 1024])
def test_a_long_error_answer_leaves_the_connection_usable(size: int) -> None:
    answers = [(400, b"x" * size), (200, b"")]
    with front(lambda _path, _body: answers[0]) as am:
        client = AlertmanagerClient(am.url, 5.0)
        alert = '{"labels":{"alarm_id":"a"}}'
        with pytest.raises(RefusedError):
            client.post([alert])
        answers.pop(0)
        client.post([alert])
        client.close()
        assert [s.status for s in am.seen()] == [400, 200]
