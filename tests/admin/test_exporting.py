import pytest
from django.urls import reverse

from crm.models import Job
from tests.factories import PaymentRecordFactory

pytestmark = pytest.mark.django_db

EXPORTS = ["crm_customer", "crm_enrollment", "crm_paymentrecord"]
# Each a filter the list cannot apply: no such filter, and a value its field refuses.
HOSTILE_QUERIES = [
    {"no_such_filter": "1"},
    {"consultant__id__exact": "abc"},
    {"e": "1", "no_such_filter": "1"},
]


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_an_export_with_filters_the_list_cannot_apply_goes_back_to_the_list_with_a_message(
    boss_client, export, query
):
    PaymentRecordFactory()
    url = reverse(f"admin:{export}_export")

    responses = [
        boss_client.get(url, query, follow=True),
        boss_client.post(f"{url}?no_such_filter=1", {"format": "0"}, follow=True),
    ]

    for response in responses:
        assert response.redirect_chain == [(reverse(f"admin:{export}_changelist"), 302)]
        assert [str(message) for message in response.context["messages"]] == [
            "导出地址中的筛选条件无效，未导出任何数据。请重新筛选列表后再导出。"
        ]
    assert not Job.objects.exists()
