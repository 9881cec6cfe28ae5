import pytest
from django.utils import translation

from crm.models import ClassList, Customer, PaymentRecord
from crm.models.choices import Course, PaymentStatus, choice_label, choice_labels


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_choice_label_is_the_display_of_its_field_in_the_active_language(language):
    with translation.override(language):
        for status in Customer.Status:
            customer = Customer(status=status)
            assert choice_label(customer, "status") == customer.get_status_display()
        for status in PaymentStatus:
            payment = PaymentRecord(status=status)
            assert choice_label(payment, "status") == payment.get_status_display()
        assert choice_labels(Course) == {code: str(label) for code, label in Course.choices}


def test_choice_labels_follow_a_change_of_language():
    with translation.override("en"):
        english = choice_label(Customer(status=Customer.Status.SIGNED), "status")
    with translation.override("zh-hans"):
        chinese = choice_label(Customer(status=Customer.Status.SIGNED), "status")
    assert english != chinese
    assert chinese == "已报名"


def test_a_code_that_is_not_a_choice_is_shown_as_it_is():
    assert choice_label(Customer(status="legacy"), "status") == "legacy"
    assert choice_label(ClassList(course="Cobol"), "course") == "Cobol"
