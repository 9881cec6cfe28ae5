"""Homework files live in private storage: no public URL, only the view that checks who asks."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from crm.models import StudyRecord
from tests.factories import StudyRecordFactory

pytestmark = pytest.mark.django_db


def test_a_homework_file_is_stored_under_the_private_root_with_a_random_name(private_media):
    record = StudyRecordFactory()
    record.homework.save("张三-第1天.zip", ContentFile(b"PK"))
    assert (private_media / record.homework.name).read_bytes() == b"PK"
    assert record.homework.name.startswith(f"homework/{record.course_record_id}/")
    assert "张三" not in record.homework.name and record.homework.name.endswith(".zip")


def test_the_url_of_a_homework_file_is_the_checking_view_not_a_media_path(private_media, settings):
    record = StudyRecordFactory()
    record.homework.save("a.zip", ContentFile(b"PK"))
    assert record.homework.url == reverse("homework_file", kwargs={"name": record.homework.name})
    assert not record.homework.url.startswith(settings.MEDIA_URL)
    assert settings.MEDIA_URL == "/media/"


def test_the_admin_links_a_study_records_file_through_the_checking_view(boss_client, private_media):
    record = StudyRecordFactory()
    record.homework.save("a.zip", ContentFile(b"PK"))
    response = boss_client.get(reverse("admin:crm_studyrecord_change", args=[record.pk]))
    assert response.status_code == 200
    assert f'href="{record.homework.url}"' in response.content.decode()


def test_the_storage_follows_the_private_root_setting(settings, tmp_path):
    storage = StudyRecord._meta.get_field("homework").storage
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "elsewhere"
    assert storage.path("homework/x.zip") == str(tmp_path / "elsewhere" / "homework" / "x.zip")
