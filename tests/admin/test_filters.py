"""The follow_up filter (下次跟进): today, overdue and the next 7 days, on their boundary dates."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.admin.filters import follow_up_badge
from crm.models import Customer
from crm.querysets import CustomerQuerySet
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PRIVATE = "admin:crm_privatecustomer_changelist"
ALL = "admin:crm_customer_changelist"
# Days from today of each customer's next follow-up; None: no date.
OFFSETS = {"long_ago": -30, "yesterday": -1, "today": 0, "tomorrow": 1, "day6": 6, "day7": 7, "none": None}


def due(owner, offsets=OFFSETS, today=None):
    today = today or timezone.localdate()
    for name, offset in offsets.items():
        next_date = None if offset is None else today + datetime.timedelta(days=offset)
        CustomerFactory(consultant=owner, name=name, next_date=next_date)


def names(response) -> set[str]:
    assert response.status_code == 200
    return {customer.name for customer in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("today", {"today"}),
        ("overdue", {"long_ago", "yesterday"}),
        ("week", {"today", "tomorrow", "day6"}),
    ],
)
def test_the_follow_up_filter_of_my_customers_on_boundary_dates(sales_client, sales_user, value, expected):
    due(sales_user)

    assert names(sales_client.get(reverse(PRIVATE), {"follow_up": value})) == expected


def test_an_unknown_follow_up_value_filters_nothing(sales_client, sales_user):
    due(sales_user)

    assert names(sales_client.get(reverse(PRIVATE), {"follow_up": "someday"})) == set(OFFSETS)


def test_the_filter_offers_its_three_choices_on_my_customers(sales_client):
    page = sales_client.get(reverse(PRIVATE)).content.decode()

    for label in ["下次跟进", "?follow_up=today", "?follow_up=overdue", "?follow_up=week", "未来 7 天"]:
        assert label in page


def test_the_boss_filters_all_customers_by_follow_up_and_salesperson(
    boss_client, sales_user, other_sales_user
):
    due(sales_user)
    due(other_sales_user, {"other_overdue": -2})

    response = boss_client.get(reverse(ALL), {"follow_up": "overdue", "consultant__id__exact": sales_user.pk})

    assert names(response) == {"long_ago", "yesterday"}


def test_the_queryset_methods_count_from_the_given_day(sales_user):
    day = datetime.date(2026, 3, 1)  # after a February of 28 days
    due(sales_user, today=day)
    customers = Customer.objects.owned_by(sales_user)

    def of(queryset):
        return set(queryset.values_list("name", flat=True))

    assert of(customers.follow_up_today(day)) == {"today"}
    assert of(customers.follow_up_overdue(day)) == {"long_ago", "yesterday"}
    assert of(customers.follow_up_week(day)) == {"today", "tomorrow", "day6"}
    # The Q companions are what the list filter and the home page's counts use.
    assert of(customers.filter(CustomerQuerySet.follow_up_overdue_q(day))) == {"long_ago", "yesterday"}


def test_the_badge_says_today_or_how_many_days_overdue():
    today = datetime.date(2026, 12, 1)

    assert "今天" in follow_up_badge(today, today=today)
    assert "逾期 1 天" in follow_up_badge(today - datetime.timedelta(days=1), today=today)
    assert "逾期 12 天" in follow_up_badge(today - datetime.timedelta(days=12), today=today)
    assert follow_up_badge(today + datetime.timedelta(days=3), today=today) == "2026-12-04"
    assert follow_up_badge(None, today=today) == "-"


# --- a filter offered as a drop-down list (SelectListFilterMixin: the class filters) ---


def class_filter(response):
    from crm.admin.filters import SelectListFilterMixin

    cl = response.context["cl"]
    [spec] = [spec for spec in cl.filter_specs if isinstance(spec, SelectListFilterMixin)]
    [choice] = spec.choices(cl)
    return cl, spec, choice


def test_the_class_filter_is_a_drop_down_of_the_classes_with_the_lists_other_parameters(finance_client):
    from django.contrib.admin.filters import RelatedFieldListFilter

    from tests.factories import ClassListFactory, PaymentRecordFactory

    chosen, other = ClassListFactory(), ClassListFactory()
    PaymentRecordFactory(enrolment_class=chosen)
    url = reverse("admin:crm_paymentrecord_changelist")
    params = {
        "enrolment_class__id__exact": chosen.pk,
        "pay_type__exact": "tuition",
        "status__exact": "unconfirmed",
        "p": 2,
    }

    response = finance_client.get(url, params)

    cl, spec, choice = class_filter(response)
    # The same choices, selected and labelled as Django's own links (Django 5.2's choices, pinned).
    links = list(RelatedFieldListFilter.choices(spec, cl))
    assert [(str(value), display, selected) for value, display, selected in choice["options"]] == [
        (
            link["query_string"].split("enrolment_class__id__exact=")[1].split("&")[0],
            link["display"],
            link["selected"],
        )
        for link in links[1:-1]
    ]
    assert choice["empty"]["query_string"] == links[-1]["query_string"]
    # The other parameters go with the form; the page does not (a new filter starts at page 1).
    assert sorted(choice["hidden"]) == [("pay_type__exact", "tuition"), ("status__exact", "unconfirmed")]
    assert choice["all_query_string"] == "?pay_type__exact=tuition&status__exact=unconfirmed"
    page = response.content.decode()
    assert '<select name="enrolment_class__id__exact" class="crm-select-filter"' in page
    assert f'<option value="{chosen.pk}" selected>' in page
    assert f'<option value="{other.pk}">' in page
    assert "crm/admin/select_filter.js" in page


def test_the_class_filter_without_a_choice_offers_a_placeholder_that_submits_nothing(finance_client):
    from tests.factories import ClassListFactory

    ClassListFactory()
    response = finance_client.get(reverse("admin:crm_paymentrecord_changelist"))

    _cl, _spec, choice = class_filter(response)
    assert choice["all_selected"] and not choice["chosen"]
    # A disabled option is not submitted: the form without script shows the same list again.
    assert '<option value="" selected disabled>请选择…</option>' in response.content.decode()


def test_the_drop_downs_options_are_escaped_as_the_template_escaped_them():
    from django.template import Context, Template
    from django.test.html import parse_html
    from django.utils.safestring import mark_safe

    from crm.admin.filters import options_html

    # Escaped as the template escapes (conditional_escape): marked-safe text is kept as it is.
    options = [
        (1, "Python 1期 (<昌平> & 'A')", True),
        ("2", '"quoted"', False),
        (3, mark_safe("<b>3</b>"), False),
    ]
    template = Template(
        "{% for value, display, selected in options %}"
        '<option value="{{ value }}"{% if selected %} selected{% endif %}>{{ display }}</option>'
        "{% endfor %}"
    )

    assert parse_html(options_html(options)) == parse_html(template.render(Context({"options": options})))
