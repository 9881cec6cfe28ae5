"""The shared CrmModelAdmin: the change history speaks the forms' language."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from crm.models import Campus

pytestmark = pytest.mark.django_db


def test_the_history_of_a_change_names_the_fields_as_the_form_shows_them(boss_client):
    campus = Campus.objects.create(name="北京校区", address="旧地址")
    response = boss_client.post(
        reverse("admin:crm_campus_change", args=[campus.pk]), {"name": "北京总校", "address": "新地址"}
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get(object_id=str(campus.pk))
    assert entry.get_change_message() == "已修改校区名称 和 地址。"
    html = boss_client.get(reverse("admin:crm_campus_history", args=[campus.pk])).content.decode()
    assert "已修改校区名称 和 地址。" in html
    assert "Campus name" not in html and "Address" not in html


def test_an_addition_keeps_djangos_own_message(boss_client):
    response = boss_client.post(reverse("admin:crm_campus_add"), {"name": "上海校区", "address": ""})
    assert response.status_code == 302
    assert LogEntry.objects.get().get_change_message() == "已添加。"
