"""Uploads: a handler that stops reading a homework upload as soon as it is refused; the customer lists
waiting between an import's preview and its confirmation, stored and read back as files, not bytes."""

import io
import os
import shutil
import uuid
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils.module_loading import import_string
from import_export.tmp_storages import MediaStorage, TempFolderStorage

# The form fields (CSRF token) and multipart headers around the file, on top of the file's limit.
FORM_OVERHEAD = 64 * 1024


class HomeworkSizeLimitUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: on the homework upload URL, refuse a body from an anonymous
    visitor, a declared Content-Length or a file over HOMEWORK_MAX_UPLOAD_MB, without reading on.

    ``StopUpload(connection_reset=True)`` leaves the rest of the body unread: the form then has no
    file and says so with the limit (crm.forms.HomeworkUploadForm). Other URLs pass untouched.
    """

    active = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        match = getattr(self.request, "resolver_match", None)
        self.active = match is not None and match.url_name == "homework_upload"
        self.limit = settings.HOMEWORK_MAX_UPLOAD_MB * 1024 * 1024
        self.declared = content_length
        self.received = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if not self.active:
            return
        user = getattr(self.request, "user", None)
        if user is None or not user.is_authenticated or self.declared > self.limit + FORM_OVERHEAD:
            raise StopUpload(connection_reset=True)

    def receive_data_chunk(self, raw_data, start):
        if self.active:
            self.received += len(raw_data)
            if self.received > self.limit:
                raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None


# --- customer lists waiting between an import's preview and its confirmation (or its job) ---


def import_tmp_storage(name: str | None = None):
    """The storage where an upload waits between the preview and the confirmation (the admin's too)."""
    return import_string(settings.IMPORT_EXPORT_TMP_STORAGE_CLASS)(name=name, encoding=None, read_mode="rb")


def _media_storage():
    # MediaStorage's own choice of backend (import_export.tmp_storages), through the public handler.
    return storages["import_export"] if "import_export" in settings.STORAGES else storages["default"]


def import_uploads_save(file: BinaryIO) -> str:
    """Store an upload (a binary file, copied a chunk at a time) for the confirmation or a job;
    returns its stored name. django-import-export's ``save()`` takes the whole file as bytes: only a
    storage that keeps no file (its CacheStorage) is given them."""
    storage = import_tmp_storage()
    if isinstance(storage, MediaStorage | TempFolderStorage):
        storage.name = uuid.uuid4().hex
        if isinstance(storage, MediaStorage):
            _media_storage().save(storage.get_full_path(), File(file))
        else:
            file.seek(0)
            with open(storage.get_full_path(), "wb") as stored:
                shutil.copyfileobj(file, stored)
    else:
        file.seek(0)
        storage.save(file.read())
    return os.path.basename(storage.name)


def import_uploads_open(stored_name: str) -> BinaryIO | None:
    """The upload stored under ``stored_name``, open for reading a chunk at a time (the caller closes
    it); None when it is gone or empty. django-import-export's ``read()`` returns the whole file as
    bytes (78 MB for a million rows): only a storage that keeps no file is read so."""
    storage = import_tmp_storage(stored_name)
    try:
        if isinstance(storage, MediaStorage):
            file = _media_storage().open(storage.get_full_path(), "rb")
        elif isinstance(storage, TempFolderStorage):
            file = open(storage.get_full_path(), "rb")  # noqa: SIM115 (the caller closes it)
        else:
            data = storage.read()
            file = io.BytesIO(data) if data else None
    except OSError:
        return None
    if file is not None and not file.seek(0, io.SEEK_END):
        file.close()
        return None
    if file is not None:
        file.seek(0)
    return file
