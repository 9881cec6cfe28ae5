"""Who sees which classes, course records and study records (crm/querysets.py, teaching part)."""

import pytest

from crm.models import ClassList, CourseRecord, StudyRecord
from tests.factories import CourseRecordFactory, StudyRecordFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(teaching_class, other_class):
    own = StudyRecordFactory(course_record=CourseRecordFactory(re_class=teaching_class))
    foreign = StudyRecordFactory(course_record=CourseRecordFactory(re_class=other_class))
    return own, foreign


@pytest.mark.parametrize("staff", ["class_teacher_user", "lecturer_user", "ta_user"])
def test_the_staff_of_a_class_see_it_and_its_records_only(request, staff, teaching_class, records):
    user = request.getfixturevalue(staff)
    own, _foreign = records

    assert list(ClassList.objects.visible_to(user)) == [teaching_class]
    assert list(ClassList.objects.managed_by(user)) == [teaching_class]
    assert list(CourseRecord.objects.visible_to(user)) == [own.course_record]
    assert list(StudyRecord.objects.visible_to(user)) == [own]


def test_the_boss_and_a_superuser_see_everything(boss_user, make_user, records):
    superuser = make_user(None, username="root", is_superuser=True, is_staff=True)
    for user in (boss_user, superuser):
        assert ClassList.objects.visible_to(user).count() == 2
        assert ClassList.objects.managed_by(user).count() == 2
        assert CourseRecord.objects.visible_to(user).count() == 2
        assert StudyRecord.objects.visible_to(user).count() == 2


def test_finance_sees_every_class_but_no_lessons(finance_user, records):
    user = finance_user

    assert ClassList.objects.visible_to(user).count() == 2
    assert not ClassList.objects.managed_by(user).exists()
    assert not CourseRecord.objects.visible_to(user).exists()
    assert not StudyRecord.objects.visible_to(user).exists()


def test_sales_see_no_class_and_no_lessons(sales_user, records):
    user = sales_user

    assert not ClassList.objects.visible_to(user).exists()
    assert not ClassList.objects.managed_by(user).exists()
    assert not CourseRecord.objects.visible_to(user).exists()
    assert not StudyRecord.objects.visible_to(user).exists()


def test_a_user_without_a_role_sees_nothing(make_user, records):
    nobody = make_user(None, username="nobody")

    assert not ClassList.objects.visible_to(nobody).exists()
    assert not StudyRecord.objects.visible_to(nobody).exists()


def test_the_classes_are_named_in_their_order_as_str_names_them(django_assert_num_queries):
    from tests.factories import ClassListFactory

    ClassListFactory.create_batch(3)
    ClassListFactory(course="PythonFullStack", semester=7)
    classes = ClassList.objects.order_by("-semester")

    with django_assert_num_queries(1):
        named = classes.named()

    assert named == [(klass.pk, str(klass)) for klass in classes]
