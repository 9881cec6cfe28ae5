import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.models import Job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_tmp_storage", "private_media")]


def test_cleanup_jobs_deletes_the_old_result_files_and_says_how_many(boss_user, settings):
    settings.JOB_RESULT_DAYS = 7
    job = Job.objects.create(
        user=boss_user,
        kind=Job.Kind.EXPORT,
        subject="缴费记录",
        state=Job.State.DONE,
        finished=timezone.now() - datetime.timedelta(days=8),
    )
    job.result_file.save("old.csv", io.BytesIO(b"a"))
    out = io.StringIO()

    call_command("cleanup_jobs", stdout=out)

    job.refresh_from_db()
    assert not job.result_file
    assert out.getvalue().strip() == "1 result files and 0 unconfirmed uploads deleted."
