"""An upload handler that stops reading a homework upload as soon as it is refused."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

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
