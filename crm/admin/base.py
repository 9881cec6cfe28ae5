"""Pieces shared by the admin modules."""

from django.contrib import admin
from django.http import Http404
from django.utils.translation import gettext_lazy as _


class ScopedAdminMixin:
    """Restrict every view of a model admin (list, change, history, delete, export,
    autocomplete, select-across) to the rows a user may see.

    Subclasses implement ``scope_queryset(request, queryset)`` with the model's ``visible_to``.
    """

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def scope_queryset(self, request, queryset):
        return queryset

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index saying the object "doesn't exist"; a row outside the user's
        # scope must be indistinguishable from a missing one, and a 404 is what both should be.
        raise Http404(_("Not found."))


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CrmModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_per_page = 20
    list_max_show_all = 200
    # A filtered list would count the whole (scoped) table a second time just to print "of N total".
    show_full_result_count = False

    class Media:
        css = {"all": ["crm/admin/site.css"]}
