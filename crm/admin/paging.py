"""A changelist whose page size the user picks (20/50/100) with ``?per_page=``."""

from django.contrib.admin.views.main import PAGE_VAR, ChangeList

PER_PAGE_VAR = "per_page"
PER_PAGE_CHOICES = (20, 50, 100)


class PerPageChangeList(ChangeList):
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
