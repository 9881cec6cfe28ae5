from crm.models.choices import ClassType, Course
from crm.models.customer import (
    Campus,
    ConsultRecord,
    ConsultRecordTally,
    Customer,
    CustomerStatusChange,
    CustomerTally,
    CustomerTransfer,
    PrivateCustomer,
    PublicCustomer,
)
from crm.models.dashboard import (
    DailyEnrollments,
    DailyFollowedCustomers,
    DailyFollowUps,
    DailyLeads,
    DailyPayments,
    DashboardDay,
    DashboardDirtyDay,
)
from crm.models.finance import Enrollment, PaymentRecord, PaymentTally
from crm.models.imports import CustomerImport
from crm.models.jobs import Job
from crm.models.teaching import ClassList, ContractTemplate, CourseRecord, StudyRecord, StudyRecordTally
from crm.models.user import Department, UserProfile

__all__ = [
    "Campus",
    "ClassList",
    "ClassType",
    "ConsultRecord",
    "ConsultRecordTally",
    "ContractTemplate",
    "Course",
    "CourseRecord",
    "Customer",
    "CustomerImport",
    "CustomerStatusChange",
    "CustomerTally",
    "CustomerTransfer",
    "DailyEnrollments",
    "DailyFollowedCustomers",
    "DailyFollowUps",
    "DailyLeads",
    "DailyPayments",
    "DashboardDay",
    "DashboardDirtyDay",
    "Department",
    "Enrollment",
    "Job",
    "PaymentRecord",
    "PaymentTally",
    "PrivateCustomer",
    "PublicCustomer",
    "StudyRecord",
    "StudyRecordTally",
    "UserProfile",
]
