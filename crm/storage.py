"""Storage for files that must never be reachable from a public URL (homework uploads)."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def private_storage() -> FileSystemStorage:
    # base_url=None: the files have no public URL; a view that checks access serves them.
    return FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, base_url=None)


def homework_upload_to(instance, filename: str) -> str:
    # A random name, so that the stored path cannot be guessed from the student or the class.
    suffix = PurePosixPath(filename).suffix.lower()
    return f"homework/{instance.course_record_id}/{uuid.uuid4().hex}{suffix}"
