"""A fresh Python process with the project's settings read from a chosen environment, as a server
(gunicorn, a Celery worker, ``manage.py``) would read them at start-up."""

import os
import subprocess
import sys
from collections.abc import Callable

from django.conf import settings


def run_fresh(
    args: list[str],
    *,
    settings_module: str,
    drop: Callable[[str], bool],
    timeout: int = 60,
    **env: str,
) -> subprocess.CompletedProcess:
    """Run ``python *args`` in the project's directory with this process's environment, less the
    variables ``drop`` names, plus ``env``; DJANGO_SETTINGS_MODULE is ``settings_module``."""
    kept = {key: value for key, value in os.environ.items() if not drop(key)}
    return subprocess.run(
        [sys.executable, *args],
        env={**kept, "DJANGO_SETTINGS_MODULE": settings_module, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
