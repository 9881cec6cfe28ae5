"""Every list: a page number that is not a number or below 1 shows the first page, one past the end the
last page; the page sizes 20/50/100 stay."""

import pytest
from django.urls import reverse

from crm.admin.paging import NearestPagePaginator
from tests.factories import CampusFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

CAMPUSES = "admin:crm_campus_changelist"
MY_CUSTOMERS = "admin:crm_privatecustomer_changelist"


@pytest.fixture
def campuses(db):
    # 45 rows: pages of 20, 20 and 5.
    return CampusFactory.create_batch(45)


def shown(response):
    assert response.status_code == 200, response.get("Location")
    cl = response.context["cl"]
    return cl.page_num, len(cl.result_list)


@pytest.mark.parametrize("page", ["abc", "0", "-3", "", "1.5"])
def test_a_page_that_is_not_a_number_or_below_one_shows_the_first_page(boss_client, campuses, page):
    assert shown(boss_client.get(reverse(CAMPUSES), {"p": page})) == (1, 20)


@pytest.mark.parametrize("page", ["4", "999"])
def test_a_page_past_the_end_shows_the_last_page(boss_client, campuses, page):
    response = boss_client.get(reverse(CAMPUSES), {"p": page})

    assert shown(response) == (3, 5)
    # The page shown is the one marked as current in the page links.
    assert '<span class="this-page">3</span>' in response.content.decode()


def test_a_page_in_range_is_shown_as_asked(boss_client, campuses):
    assert shown(boss_client.get(reverse(CAMPUSES), {"p": "2"})) == (2, 20)


def test_the_page_sizes_stay_and_a_page_past_the_end_of_a_larger_page_is_the_last(sales_client, sales_user):
    CustomerFactory.create_batch(60, consultant=sales_user)

    assert shown(sales_client.get(reverse(MY_CUSTOMERS), {"per_page": "50", "p": "7"})) == (2, 10)
    assert shown(sales_client.get(reverse(MY_CUSTOMERS), {"per_page": "100", "p": "x"})) == (1, 60)
    assert shown(sales_client.get(reverse(MY_CUSTOMERS), {"per_page": "20", "p": "3"})) == (3, 20)
    sizes = sales_client.get(reverse(MY_CUSTOMERS)).context["cl"].per_page_links()
    assert [size for size, _url, _current in sizes] == [20, 50, 100]


def test_the_users_list_pages_the_same_way(boss_client):
    UserFactory.create_batch(25, is_staff=True)

    response = boss_client.get(reverse("admin:crm_userprofile_changelist"), {"p": "9"})

    assert shown(response)[0] == response.context["cl"].paginator.num_pages


def test_the_study_record_list_pages_the_same_way(boss_client):
    from tests.factories import CourseRecordFactory, StudyRecordFactory

    # Pages of 50 rows: 51 make two.
    StudyRecordFactory.create_batch(51, course_record=CourseRecordFactory())

    assert shown(boss_client.get(reverse("admin:crm_studyrecord_changelist"), {"p": "5"}))[0] == 2


def test_the_paginator_clamps_any_number():
    paginator = NearestPagePaginator(list(range(45)), 20)

    assert [paginator.validate_number(n) for n in ["0", -1, "x", None, 2, 3, 4, 10**9]] == [
        1,
        1,
        1,
        1,
        2,
        3,
        3,
        3,
    ]
    assert NearestPagePaginator([], 20).validate_number(5) == 1
