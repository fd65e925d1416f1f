"""Gunicorn entry point for OpenStack WSGI apps that parse ``sys.argv`` at import time.

Runs inside the OpenStack virtual environment. ``TESTBED_WSGI_APP`` names the target as
``module:attribute``; when the attribute is a factory (``init_application``), set
``TESTBED_WSGI_FACTORY=1`` and it is called once. ``sys.argv`` is reduced to the program
name while the target imports, so oslo.config never sees gunicorn's own flags; apps that
read their config files only from ``sys.argv`` get ``TESTBED_WSGI_ARGS`` (split like a shell
would) instead, e.g. ``--config-file /path/app.conf``.
"""

import importlib
import os
import shlex
import sys

_saved = sys.argv
sys.argv = [
    os.environ.get("TESTBED_WSGI_PROG", "wsgi"),
    *shlex.split(os.environ.get("TESTBED_WSGI_ARGS", "")),
]
try:
    _module_name, _, _attribute = os.environ["TESTBED_WSGI_APP"].partition(":")
    _target = getattr(importlib.import_module(_module_name), _attribute or "application")
    application = _target() if os.environ.get("TESTBED_WSGI_FACTORY") == "1" else _target
finally:
    sys.argv = _saved
