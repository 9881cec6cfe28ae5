"""crm.admin.results writes the rows of every list as Django 5.2's ``admin_list.results`` writes them."""

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.templatetags import admin_list
from django.urls import reverse
from django.utils import translation

from crm.admin import results
from crm.models import Customer, StudyRecord
from tests.test_access_matrix import build_world

STAFF = ("sales", "class_teacher", "lecturer", "ta", "finance", "boss", "superuser")
# Every list of ours (the crm app's): the lists of other apps (axes' logins) are Django's own pages.
LISTS = sorted(
    reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    for model in admin.site._registry
    if model._meta.app_label == "crm"
)


@pytest.fixture
def world(db, private_media):
    return build_world(private_media)


def stock_and_ours(cl) -> tuple[list[str], list[str]]:
    stock = ["".join(row) for row in admin_list.results(cl)]
    ours = ["".join(row) for row in results.results(cl)]
    return stock, ours


def test_every_list_of_every_role_is_written_as_django_writes_it(client, world):
    compared = set()
    for role in STAFF:
        client.force_login(world.users[role])
        for url in LISTS:
            for query in ("", "?_popup=1", "?o=-1", "?q=客户", "?status=studying"):
                response = client.get(url + query)
                if response.status_code != 200 or "cl" not in response.context:
                    continue
                cl = response.context["cl"]
                stock, ours = stock_and_ours(cl)
                assert ours == stock, (role, url + query)
                page = response.content.decode()
                assert all(row in page for row in ours), (role, url + query)
                if stock:
                    compared.add(url)
    assert compared == set(LISTS)


def test_the_page_is_written_by_our_rows(boss_client, world):
    response = boss_client.get(reverse("admin:crm_customer_changelist"))

    assert "admin/crm/change_list.html" in [template.name for template in response.templates]


def test_the_study_records_editable_cells_and_their_errors_are_written_as_django_writes_them(client, world):
    client.force_login(world.users["ta"])
    url = reverse("admin:crm_studyrecord_changelist")
    [record] = StudyRecord.objects.filter(course_record__re_class=world.objects["class"])
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": record.pk,
        "form-0-attendance": record.attendance,
        "form-0-score": "7",  # not a score
        "form-0-homework_note": "<b>已交</b>",
        "_save": "Save",
    }

    response = client.post(url, data)

    cl = response.context["cl"]
    assert cl.formset.forms[0].errors["score"]
    stock, ours = stock_and_ours(cl)
    assert ours == stock
    assert "&lt;b&gt;已交&lt;/b&gt;" in ours[0]


class NoteForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["name"]

    def clean(self):
        raise forms.ValidationError("整行有误")


def flagged(obj):
    return obj.locked


flagged.boolean = True


class OddColumnsAdmin(admin.ModelAdmin):
    """Every kind of column Django's items_for_result tells apart."""

    list_display = [
        "id",
        "name",
        "qq",
        "consultant",
        "consultant_id",
        "campus",
        "sex",
        "status",
        "date",
        "last_consult_date",
        "locked",
        "wechat",
        "customer_note",
        "__str__",
        "consultant__username",
        lambda obj: f"<{obj.name}>",
        flagged,
        "nothing",
        "when",
        "blank",
        "user",
    ]
    list_display_links = ["qq", "sex"]
    list_editable = ["name"]
    empty_value_display = "(空)"

    @admin.display(empty_value="无")
    def nothing(self, obj):
        return None

    def when(self, obj):
        return obj.last_consult_date

    def blank(self, obj):
        return "   "


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("query", ["", "?_popup=1", "?_popup=1&_to_field=id", "?status=studying"])
def test_every_kind_of_column_is_written_as_django_writes_it(rf, world, language, query):
    model_admin = OddColumnsAdmin(Customer, admin.site)
    request = rf.get(f"/admin/crm/customer/{query}")
    request.user = world.users["superuser"]
    with translation.override(language):
        cl = model_admin.get_changelist_instance(request)
        cl.formset = None
        stock, ours = stock_and_ours(cl)

    assert len(ours) == len(cl.result_list) > 0
    assert ours == stock


def test_a_row_form_with_errors_of_its_own_keeps_its_cells(rf, world):
    class ErringAdmin(OddColumnsAdmin):
        def get_changelist_form(self, request, **kwargs):
            return NoteForm

    model_admin = ErringAdmin(Customer, admin.site)
    request = rf.get("/admin/crm/customer/")
    request.user = world.users["superuser"]
    cl = model_admin.get_changelist_instance(request)
    customers = list(cl.result_list)
    data = {"form-TOTAL_FORMS": str(len(customers)), "form-INITIAL_FORMS": str(len(customers))}
    for index, customer in enumerate(customers):
        data |= {f"form-{index}-id": customer.pk, f"form-{index}-name": customer.name}
    cl.formset = model_admin.get_changelist_formset(request)(data, queryset=cl.result_list)
    assert not cl.formset.is_valid()

    stock = list(admin_list.results(cl))
    ours = list(results.results(cl))

    assert [list(row) for row in ours] == [list(row) for row in stock]
    assert all(row.form.non_field_errors() for row in ours)
