import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import tallies
from crm.models import PaymentRecord, PaymentTally
from crm.services.finance import payments_tally_totals
from tests.factories import PaymentRecordFactory

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
