import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import tallies
from crm.models import ConsultRecord, ConsultRecordTally, PaymentRecord, PaymentTally
from crm.services.finance import payments_tally_totals
from tests.factories import ConsultRecordFactory, PaymentRecordFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def installed_body(tally=tallies.PAYMENTS):
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [tally.function])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("tally", tallies.TALLIES, ids=lambda tally: tally.function)
def test_each_tallys_installed_function_is_the_one_generated_from_its_rules(tally):
    assert installed_body(tally) == tally.function_body(connection)


def test_the_payment_tallys_function_holds_the_money_rules_own_literals():
    # Compiled by the ORM from PaymentRecordQuerySet: the outgoing types.
    assert "'refund', 'dropout'" in installed_body()


def test_an_install_with_the_same_rules_changes_nothing():
    PaymentRecordFactory()
    with CaptureQueriesContext(connection) as queries:
        tallies.install_tallies()
    assert not [query for query in queries if "crm_paymenttally" in query["sql"]]


def test_an_install_after_a_rule_changed_refills_the_tally_from_the_payments():
    PaymentRecordFactory(paid_fee=700)
    PaymentRecordFactory(pay_type=PaymentRecord.PayType.REFUND, paid_fee=200)
    with connection.cursor() as cursor:
        # As if an older rule had been installed, and had summed the payments its way.
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {tallies.PAYMENTS.function}() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RETURN NULL; END $$"
        )
        cursor.execute("UPDATE crm_paymenttally SET net = 0")

    tallies.install_tallies()

    assert installed_body() == tallies.PAYMENTS.function_body(connection)
    assert payments_tally_totals(groups=PaymentTally.objects.all()) == PaymentRecord.objects.totals()
    assert payments_tally_totals(groups=PaymentTally.objects.all())["unconfirmed_net"] == 500


def test_a_truncate_empties_the_tally():
    PaymentRecordFactory()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a truncate waits for no deferred check
        cursor.execute("TRUNCATE crm_paymentrecord")
    assert payments_tally_totals(groups=PaymentTally.objects.all())["count"] == 0


@pytest.fixture
def fold_rows(monkeypatch):
    monkeypatch.setattr(tallies, "TALLY_FOLD_ROWS", 3)


def test_a_read_of_few_groups_folds_the_tally_once_the_whole_tally_is_long(fold_rows):
    # Each follow-up's insert adds a row to the tally; the read selects none of them, but scans all.
    first = ConsultRecordFactory()
    ConsultRecordFactory.create_batch(3, consultant=first.consultant, customer=first.customer)
    assert ConsultRecordTally.objects.count() == 4

    assert tallies.tally_count(tallies.FOLLOW_UPS, ConsultRecordTally.objects.filter(status="none")) == 0

    assert ConsultRecordTally.objects.count() == 1
    assert tallies.tally_count(tallies.FOLLOW_UPS, ConsultRecordTally.objects.all()) == 4


def test_a_short_tally_is_not_folded(fold_rows):
    ConsultRecordFactory()
    rows = ConsultRecordTally.objects.count()
    assert tallies.tally_count(tallies.FOLLOW_UPS, ConsultRecordTally.objects.all()) == 1
    assert ConsultRecordTally.objects.count() == rows


def test_the_counts_per_group_leave_out_the_groups_without_rows():
    first, second = ConsultRecordFactory(), ConsultRecordFactory()
    ConsultRecord.objects.filter(pk=second.pk).delete()
    counts = tallies.tally_counts(tallies.FOLLOW_UPS, ConsultRecordTally.objects.all(), by=("consultant",))
    assert counts == {(first.consultant_id,): 1}


def test_a_sum_is_of_the_groups_read_only():
    PaymentRecordFactory(paid_fee=700)
    PaymentRecordFactory(pay_type=PaymentRecord.PayType.REFUND, paid_fee=200)
    incoming = PaymentTally.objects.filter(outgoing=False)
    totals = payments_tally_totals(groups=incoming)
    assert totals == PaymentRecord.objects.exclude(pay_type=PaymentRecord.PayType.REFUND).totals()
    assert totals["count"] == 1


def test_a_read_selecting_no_group_gives_the_aggregates_defaults_in_its_one_query():
    PaymentRecordFactory()
    with CaptureQueriesContext(connection) as queries:
        totals = payments_tally_totals(groups=PaymentTally.objects.filter(delete_status=True))
    assert len(queries) == 1
    assert totals == PaymentRecord.objects.none().totals()
    assert totals["count"] == 0
