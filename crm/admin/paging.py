"""Pagination of every list: a page number out of range shows the nearest page, and the user picks the
page size (20/50/100) with ``?per_page=``."""

from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator

PER_PAGE_VAR = "per_page"
PER_PAGE_CHOICES = (20, 50, 100)


class NearestPagePaginator(Paginator):
    """``?p=abc`` or ``?p=0`` shows the first page and ``?p=`` past the end the last, where Django's
    changelist answers an invalid page by sending the user back to the first page with ``?e=1``."""

    def validate_number(self, number):
        try:
            return super().validate_number(number)
        except PageNotAnInteger:
            return 1
        except EmptyPage:
            return 1 if int(number) < 1 else self.num_pages


class NearestPageChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # The page shown is marked as the current one in the page links ({% pagination %}).
        self.page_num = self.paginator.validate_number(self.page_num)


class NearestPageAdminMixin:
    """Every list of ours (CrmModelAdmin and the user and role admins): see NearestPagePaginator."""

    paginator = NearestPagePaginator

    def get_changelist(self, request, **kwargs):
        return NearestPageChangeList


class PerPageChangeList(NearestPageChangeList):
    def get_filters_params(self, params=None):
        # The page size is not a filter: without this the admin would try to filter on it.
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(PER_PAGE_VAR, None)
        return lookup_params

    def get_results(self, request):
        value = request.GET.get(PER_PAGE_VAR, "")
        if value.isdigit() and int(value) in PER_PAGE_CHOICES:
            self.list_per_page = int(value)
        super().get_results(request)

    def per_page_links(self):
        return [
            (size, self.get_query_string({PER_PAGE_VAR: size}, [PAGE_VAR]), size == self.list_per_page)
            for size in PER_PAGE_CHOICES
        ]


class PerPageAdminMixin:
    """Lets the user pick the page size of the changelist (template: admin/crm/change_list_per_page.html)."""

    change_list_template = "admin/crm/change_list_per_page.html"

    def get_changelist(self, request, **kwargs):
        return PerPageChangeList
