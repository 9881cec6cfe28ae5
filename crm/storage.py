"""Storage for files that must never be reachable from a public URL (homework uploads)."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.urls import reverse
from django.utils.functional import cached_property


class PrivateStorage(FileSystemStorage):
    """Files under ``settings.PRIVATE_MEDIA_ROOT``, outside every directory a web server publishes.

    A file's URL is the view that checks who asks (``homework_file``), never a path of the web server.
    """

    @cached_property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    def _clear_cached_properties(self, setting, **kwargs):
        # FileSystemStorage's reaction to setting_changed (Django 5.2, checked): the private root
        # follows PRIVATE_MEDIA_ROOT in tests (tests/test_storage.py pins it).
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def url(self, name):
        return reverse("homework_file", kwargs={"name": name})


def private_storage() -> FileSystemStorage:
    return PrivateStorage()


def homework_upload_to(instance, filename: str) -> str:
    # A random name, so that the stored path cannot be guessed from the student or the class.
    suffix = PurePosixPath(filename).suffix.lower()
    return f"homework/{instance.course_record_id}/{uuid.uuid4().hex}{suffix}"
