"""factory_boy factories for every model; tests build exactly the data they need."""

import datetime

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from crm import models
from crm.roles import ROLES_BY_CODE


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Department
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Department {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.UserProfile
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Sequence(lambda n: f"用户{n}")
    password = factory.django.Password("pw-for-tests-2026")
    is_staff = False

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """UserFactory(role="sales") puts the user in that role's group."""
        if not create or not extracted:
            return
        role = ROLES_BY_CODE[extracted]
        self.groups.add(Group.objects.get(name=role.group_name))
        if role.is_staff and not self.is_staff:
            self.is_staff = True
            self.save(update_fields=["is_staff"])


class CampusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Campus
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"校区{n}")
    address = "北京市昌平区"


class ContractTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ContractTemplate

    name = factory.Sequence(lambda n: f"合同{n}")
    content = "培训协议正文"


class ClassListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ClassList
        skip_postgeneration_save = True

    course = models.Course.PYTHON_FULLSTACK
    semester = factory.Sequence(lambda n: n + 1)
    campus = factory.SubFactory(CampusFactory)
    class_type = models.ClassType.FULLTIME
    price = 19800
    start_date = datetime.date(2026, 9, 1)

    @factory.post_generation
    def teachers(self, create, extracted, **kwargs):
        if create and extracted:
            self.teachers.add(*extracted)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Customer
        skip_postgeneration_save = True

    qq = factory.Sequence(lambda n: str(100000 + n))
    qq_name = factory.Sequence(lambda n: f"qq昵称{n}")
    name = factory.Sequence(lambda n: f"客户{n}")
    sex = models.Customer.Sex.MALE
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    source = models.Customer.Source.QQ
    course = [models.Course.PYTHON_FULLSTACK]
    consultant = None

    @factory.post_generation
    def class_list(self, create, extracted, **kwargs):
        if create and extracted:
            self.class_list.add(*extracted)


class ConsultRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ConsultRecord

    customer = factory.SubFactory(CustomerFactory)
    note = "电话沟通，对课程感兴趣"
    status = models.ConsultRecord.Stage.B
    consultant = factory.SubFactory(UserFactory)


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Enrollment

    customer = factory.SubFactory(CustomerFactory)
    enrolment_class = factory.SubFactory(ClassListFactory)
    school = factory.SelfAttribute("enrolment_class.campus")
    consultant = factory.SubFactory(UserFactory)
    contract_agreed = True


class PaymentRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PaymentRecord

    customer = factory.SubFactory(CustomerFactory)
    enrolment_class = factory.SubFactory(ClassListFactory)
    consultant = factory.SubFactory(UserFactory)
    pay_type = models.PaymentRecord.PayType.TUITION
    paid_fee = 5000


class CourseRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CourseRecord

    re_class = factory.SubFactory(ClassListFactory)
    day_num = factory.Sequence(lambda n: n + 1)
    course_title = factory.Sequence(lambda n: f"第{n + 1}天")
    teacher = factory.SubFactory(UserFactory)
    date = factory.LazyFunction(timezone.localdate)


class StudyRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.StudyRecord

    course_record = factory.SubFactory(CourseRecordFactory)
    student = factory.SubFactory(CustomerFactory, status=models.Customer.Status.STUDYING)
