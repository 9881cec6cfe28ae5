import csv
import datetime
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Customer, Job
from crm.resources.customers import CustomerExportResource
from crm.resources.finance import PaymentRecordResource
from tests.factories import CustomerFactory, PaymentRecordFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_tmp_storage", "private_media")]

JOBS = reverse("admin:crm_job_changelist")
IMPORT_URL = reverse("admin:crm_customer_import")
PROCESS_URL = reverse("admin:crm_customer_process_import")
PAYMENTS_EXPORT = reverse("admin:crm_paymentrecord_export")


def export_post(resource, file_format="0"):
    fields = {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    return {"format": file_format, "resource": "0", **fields}


def customer_export_post():
    return export_post(CustomerExportResource)


def download(client, job):
    response = client.get(reverse("admin:crm_job_download", args=[job.pk]))
    return response, b"".join(response.streaming_content) if response.status_code == 200 else b""


def xlsx_rows(content: bytes) -> list[tuple]:
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return list(workbook.active.iter_rows(values_only=True))


def test_a_large_import_runs_as_a_job_followed_on_the_jobs_page(
    boss_client, boss_user, import_file, settings, django_capture_on_commit_callbacks
):
    settings.JOB_ROWS_THRESHOLD = 2
    with django_capture_on_commit_callbacks(execute=True):
        checked = boss_client.post(
            IMPORT_URL, {"import_file": SimpleUploadedFile("名单.csv", import_file("customers_utf8.csv"))}
        )
    # The check of the file was a job as well: the import page shows its result.
    preview = boss_client.get(checked.url)
    form = preview.context["confirm_form"]
    assert form.initial["rows"] == 3

    with django_capture_on_commit_callbacks(execute=True):
        response = boss_client.post(PROCESS_URL, {name: form.initial[name] for name in form.fields})

    assert response.status_code == 302 and response.url == JOBS
    job = Job.objects.get(kind=Job.Kind.IMPORT)
    assert (job.user, job.kind, job.subject, job.state) == (
        boss_user,
        Job.Kind.IMPORT,
        "名单.csv",
        Job.State.DONE,
    )
    assert Customer.objects.count() == 3
    page = boss_client.get(JOBS).content.decode()
    assert "名单.csv" in page and "3 / 3" in page and "100%" in page


def test_a_small_import_still_runs_in_the_request(boss_client, import_file, settings):
    settings.JOB_ROWS_THRESHOLD = 3
    preview = boss_client.post(
        IMPORT_URL, {"import_file": SimpleUploadedFile("名单.csv", import_file("customers_utf8.csv"))}
    )
    form = preview.context["confirm_form"]

    response = boss_client.post(PROCESS_URL, {name: form.initial[name] for name in form.fields})

    assert response.url == reverse("admin:crm_customer_changelist")
    assert not Job.objects.exists() and Customer.objects.count() == 3


@pytest.mark.parametrize("file_format", ["0", "1"])
def test_a_large_export_runs_as_a_job_with_the_lists_rows(
    finance_client, finance_user, sales_user, klass, settings, django_capture_on_commit_callbacks, file_format
):
    settings.JOB_ROWS_THRESHOLD = 1
    zhang = CustomerFactory(consultant=sales_user, name="张三", qq="123456")
    for fee in (100, 200):
        PaymentRecordFactory(customer=zhang, enrolment_class=klass, consultant=sales_user, paid_fee=fee)
    PaymentRecordFactory(customer=CustomerFactory(name="李四"), enrolment_class=klass, consultant=sales_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post(
            PAYMENTS_EXPORT + "?q=张三", export_post(PaymentRecordResource, file_format)
        )

    assert response.status_code == 302 and response.url == JOBS
    job = Job.objects.get()
    assert (job.user, job.kind, job.state, job.rows_done, job.rows_total) == (
        finance_user,
        Job.Kind.EXPORT,
        Job.State.DONE,
        2,
        2,
    )
    answer, content = download(finance_client, job)
    assert answer.status_code == 200 and "attachment" in answer["Content-Disposition"]
    if file_format == "0":
        header, *rows = xlsx_rows(content)
        assert header[1] == "客户姓名"
        assert sorted(row[6] for row in rows) == [100, 200]
    else:
        lines = content.decode("utf-8-sig").splitlines()
        assert len(lines) == 3 and all("张三" in line for line in lines[1:])


def exported_rows(content: bytes, file_format: str) -> list:
    if file_format == "0":
        return [list(row) for row in xlsx_rows(content)]
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def export_twice(client, url, data, settings, django_capture_on_commit_callbacks, file_format):
    """The rows of the export in the request, and of the same export run as a job."""
    settings.JOB_ROWS_THRESHOLD = 1000
    answered = client.post(url, data)
    assert answered.status_code == 200
    in_request = exported_rows(b"".join(answered.streaming_content), file_format)
    settings.JOB_ROWS_THRESHOLD = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, data).url == JOBS
    job = Job.objects.latest("pk")
    assert job.state == Job.State.DONE, job.error
    return in_request, exported_rows(download(client, job)[1], file_format)


@pytest.mark.parametrize("file_format", ["0", "1"], ids=["xlsx", "csv"])
def test_an_export_job_writes_the_rows_of_the_list_as_the_request_does(
    finance_client, sales_user, klass, settings, django_capture_on_commit_callbacks, file_format
):
    # One rule for both: the list's scope (not the recycle bin), search, date range, the masked QQ
    # of finance and the net amount of a refund.
    zhang = CustomerFactory(consultant=sales_user, name="张三", qq="12345689")
    paid = datetime.datetime(2026, 11, 10, 10, tzinfo=datetime.UTC)
    for pay_type, fee in (("tuition", 9000), ("refund", 1000)):
        PaymentRecordFactory(
            customer=zhang,
            enrolment_class=klass,
            consultant=sales_user,
            pay_type=pay_type,
            paid_fee=fee,
            date=paid,
        )
    PaymentRecordFactory(
        customer=zhang, enrolment_class=klass, consultant=sales_user, delete_status=True, date=paid
    )
    PaymentRecordFactory(
        customer=zhang, enrolment_class=klass, consultant=sales_user, date=paid + datetime.timedelta(days=30)
    )
    PaymentRecordFactory(
        customer=CustomerFactory(name="李四"), enrolment_class=klass, consultant=sales_user, date=paid
    )
    query = "?q=张三&date__range__gte=2026-11-01&date__range__lte=2026-11-20"
    listed = finance_client.get(reverse("admin:crm_paymentrecord_changelist") + query).context["cl"]

    in_request, in_job = export_twice(
        finance_client,
        PAYMENTS_EXPORT + query,
        export_post(PaymentRecordResource, file_format),
        settings,
        django_capture_on_commit_callbacks,
        file_format,
    )

    assert in_job == in_request
    header, *rows = in_job
    assert [row[0] for row in rows] == [f"JF{payment.pk:06d}" for payment in listed.result_list]
    assert {row[2] for row in rows} == {"12****89"}
    assert sorted(int(row[header.index("计入合计金额")]) for row in rows) == [-1000, 9000]


@pytest.mark.parametrize("file_format", ["0", "1"], ids=["xlsx", "csv"])
def test_a_customer_export_job_writes_the_rows_of_the_list_as_the_request_does(
    boss_client, sales_user, other_sales_user, settings, django_capture_on_commit_callbacks, file_format
):
    for phone in ("13712345678", "13712345679"):
        CustomerFactory(consultant=sales_user, name="甲的客户", phone=phone)
    CustomerFactory(consultant=other_sales_user, name="乙的客户")
    query = f"?consultant__id__exact={sales_user.pk}"
    data = {**customer_export_post(), "format": file_format}

    in_request, in_job = export_twice(
        boss_client,
        reverse("admin:crm_customer_export") + query,
        data,
        settings,
        django_capture_on_commit_callbacks,
        file_format,
    )

    assert in_job == in_request
    assert [row[0] for row in in_job[1:]] == ["甲的客户", "甲的客户"]
    # The boss sees contacts whole.
    assert sorted(row[3] for row in in_job[1:]) == ["13712345678", "13712345679"]


def test_an_export_job_costs_the_same_queries_for_one_row_as_for_many(
    finance_client, sales_user, settings, django_capture_on_commit_callbacks, django_assert_num_queries
):
    settings.JOB_ROWS_THRESHOLD = 0

    def export_job() -> Job:
        with django_capture_on_commit_callbacks(execute=True):
            finance_client.post(PAYMENTS_EXPORT, export_post(PaymentRecordResource))
        return Job.objects.latest("pk")

    def payments(count: int) -> None:
        for _ in range(count):
            seller = UserFactory(role="sales")
            PaymentRecordFactory(
                customer=CustomerFactory(consultant=seller),
                consultant=seller,
                status="confirmed",
                confirm_user=UserFactory(role="finance"),
            )

    payments(1)
    export_job()  # the session and the first request's caches
    with CaptureQueriesContext(connection) as one_row:
        assert export_job().rows_done == 1

    payments(7)

    # Whatever number of classes, campuses and staff the rows refer to.
    with django_assert_num_queries(len(one_row.captured_queries)):
        assert export_job().rows_done == 8


def client_of(user) -> Client:
    # Its own client: the client_for fixture logs every user into the same one.
    client = Client()
    client.force_login(user)
    return client


def job_of(user, **fields):
    return Job.objects.create(user=user, kind=Job.Kind.EXPORT, subject="缴费记录", **fields)


def test_a_job_is_seen_by_who_started_it_and_the_boss_only(finance_client, finance_user, boss_client):
    job = job_of(finance_user, state=Job.State.DONE)
    other_finance = client_of(UserFactory(role="finance", username="finance_b"))

    assert list(finance_client.get(JOBS).context["cl"].result_list) == [job]
    assert list(boss_client.get(JOBS).context["cl"].result_list) == [job]
    assert list(other_finance.get(JOBS).context["cl"].result_list) == []
    assert finance_client.get(reverse("admin:crm_job_change", args=[job.pk])).status_code == 200
    assert other_finance.get(reverse("admin:crm_job_change", args=[job.pk])).status_code == 404


def test_sales_have_no_jobs_page(sales_client):
    assert sales_client.get(JOBS).status_code == 403


def test_the_result_file_downloads_for_its_viewers_only(finance_client, finance_user, boss_client):
    job = job_of(finance_user, state=Job.State.DONE, result_name="缴费记录.csv")
    job.result_file.save("x.csv", io.BytesIO(b"a,b\n"))
    other_finance = client_of(UserFactory(role="finance", username="finance_b"))

    answer, content = download(finance_client, job)
    assert content == b"a,b\n" and "filename*=utf-8''%E7%BC%B4" in answer["Content-Disposition"]
    assert download(boss_client, job)[1] == b"a,b\n"
    assert download(other_finance, job)[0].status_code == 404
    assert (
        f'href="{reverse("admin:crm_job_download", args=[job.pk])}"'
        in finance_client.get(JOBS).content.decode()
    )


def test_the_page_refreshes_itself_while_a_job_runs_without_a_script(finance_client, finance_user):
    job = job_of(finance_user, state=Job.State.DONE)
    assert 'http-equiv="refresh"' not in finance_client.get(JOBS).content.decode()

    job_of(finance_user, state=Job.State.RUNNING, rows_total=40000, rows_done=10000)
    page = finance_client.get(JOBS).content.decode()

    assert '<meta http-equiv="refresh" content="5">' in page
    assert "10,000 / 40,000" in page and "25%" in page
    assert job.subject in page


def test_the_cancel_action_cancels_a_queued_job_and_asks_a_running_one_to_stop(finance_client, finance_user):
    queued = job_of(finance_user)
    running = job_of(finance_user, state=Job.State.RUNNING)

    response = finance_client.post(
        JOBS, {"action": "cancel_jobs", "_selected_action": [queued.pk, running.pk]}, follow=True
    )

    assert response.status_code == 200
    queued.refresh_from_db()
    running.refresh_from_db()
    assert queued.state == Job.State.CANCELLED
    assert running.state == Job.State.RUNNING and running.cancel_requested


def test_nobody_cancels_anothers_job(finance_user):
    job = job_of(finance_user)
    other_finance = client_of(UserFactory(role="finance", username="finance_b"))

    other_finance.post(JOBS, {"action": "cancel_jobs", "_selected_action": [job.pk]})

    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and not job.cancel_requested


def test_cancelling_a_finished_job_says_so(finance_client, finance_user):
    job = job_of(finance_user, state=Job.State.DONE)

    response = finance_client.post(JOBS, {"action": "cancel_jobs", "_selected_action": [job.pk]}, follow=True)

    assert "已经结束" in response.content.decode()
    job.refresh_from_db()
    assert job.state == Job.State.DONE
