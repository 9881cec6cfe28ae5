"""The money vocabulary of PaymentRecordQuerySet: one net amount, one Q per total, used everywhere."""

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import PaymentRecord
from crm.models.finance import MAX_PAID_FEE
from crm.querysets import PaymentRecordQuerySet
from crm.services.students import student_overview
from tests.factories import ClassListFactory, CustomerFactory, PaymentRecordFactory

pytestmark = pytest.mark.django_db

PAYMENTS = reverse("admin:crm_paymentrecord_changelist")
OUTGOING = {PaymentRecord.PayType.REFUND, PaymentRecord.PayType.DROPOUT}

payments = st.lists(
    st.tuples(
        st.sampled_from(PaymentRecord.PayType.values),
        st.sampled_from(PaymentRecord.Status.values),
        st.integers(min_value=1, max_value=MAX_PAID_FEE),
        st.sampled_from([1, -1]),
        st.booleans(),  # moved to the recycle bin
    ),
    max_size=12,
)


def expected_totals(rows) -> dict[str, int]:
    """The business rule, written out once more as the test's oracle."""
    totals = dict.fromkeys(["confirmed_net", "confirmed_income", "confirmed_refunds", "unconfirmed_net"], 0)
    for pay_type, status, amount, sign, deleted in rows:
        if deleted:
            continue
        fee = amount * sign
        net = -abs(fee) if pay_type in OUTGOING else fee
        if status == PaymentRecord.Status.CONFIRMED:
            totals["confirmed_net"] += net
            totals["confirmed_refunds" if pay_type in OUTGOING or fee < 0 else "confirmed_income"] += net
        elif status == PaymentRecord.Status.UNCONFIRMED:
            totals["unconfirmed_net"] += net
    return totals


class Rollback(Exception):
    pass


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=payments)
def test_the_students_total_the_list_totals_and_the_dashboard_agree(boss_client, sales_user, rows):
    try:
        with transaction.atomic():
            klass = ClassListFactory()
            customer = CustomerFactory(consultant=sales_user)
            for pay_type, status, amount, sign, deleted in rows:
                PaymentRecordFactory(
                    customer=customer,
                    consultant=sales_user,
                    enrolment_class=klass,
                    pay_type=pay_type,
                    status=status,
                    paid_fee=amount * sign,
                    delete_status=deleted,
                )
            expected = expected_totals(rows)

            board = boss_client.get(reverse("admin:dashboard")).context
            listed = boss_client.get(PAYMENTS).context["payment_totals"]
            student = student_overview(customer=customer).confirmed_total

            assert student == listed["confirmed_net"] == board["board"].totals["confirmed_net"]
            for name in expected:
                assert listed[name] == board["board"].totals[name] == expected[name], name
            figure = {"confirmed": "confirmed_net", "income": "confirmed_income"}
            figure |= {"refunds": "confirmed_refunds", "pending": "unconfirmed_net"}
            for total, name in figure.items():
                behind_link = boss_client.get(board["links"][total]).context["payment_totals"]
                assert behind_link[name] == expected[name], total
                # Only that total's rows are behind its link.
                assert behind_link["confirmed_net"] + behind_link["unconfirmed_net"] == expected[name], total
            raise Rollback
    except Rollback:
        pass


def test_every_total_has_its_q():
    assert set(PaymentRecordQuerySet.TOTALS) == {"confirmed", "income", "refunds", "pending"}
    for name in PaymentRecordQuerySet.TOTALS:
        assert PaymentRecordQuerySet.total_q(name)


def test_income_and_refunds_make_the_confirmed_net(sales_user):
    for pay_type in PaymentRecord.PayType.values:
        for fee in (300, -300):
            PaymentRecordFactory(pay_type=pay_type, paid_fee=fee, status=PaymentRecord.Status.CONFIRMED)

    totals = PaymentRecord.objects.totals()

    assert totals["confirmed_income"] + totals["confirmed_refunds"] == totals["confirmed_net"]
    assert totals["confirmed_refunds"] == -300 * 2 * 2 - 300 * 3
    assert PaymentRecord.objects.filter(PaymentRecordQuerySet.refunds_q()).count() == 7


def test_sums_are_64_bit_integers(sales_user):
    PaymentRecordFactory.create_batch(
        3, pay_type=PaymentRecord.PayType.TUITION, paid_fee=MAX_PAID_FEE, status="confirmed"
    )
    legacy = PaymentRecordFactory(pay_type=PaymentRecord.PayType.TUITION, paid_fee=1, status="confirmed")
    # A value from before the bound, beyond what 32-bit sums hold once added up.
    PaymentRecord.objects.filter(pk=legacy.pk).update(paid_fee=2147483647)

    totals = PaymentRecord.objects.totals()

    assert totals["confirmed_net"] == 3 * MAX_PAID_FEE + 2147483647
    assert isinstance(totals["confirmed_net"], int)
