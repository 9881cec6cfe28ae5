"""django-axes' login-attempt lists (设置 → 登录尝试), where the boss unlocks a locked-out user.

Re-registered over axes' own admins (django-axes 8.x): a forged selection on their actions is a
message, not a 500 (``ValidSelectionAdminMixin``), and "clean up expired attempts" works from the
admin — axes' own action reads the time of a login attempt from the request, which only a login has,
and fails with a 500 on any other request.
"""

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin.base import ValidSelectionAdminMixin

for model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(AccessAttempt)
class LoginAttemptAdmin(ValidSelectionAdminMixin, AccessAttemptAdmin):
    @admin.action(description=_("Clean up expired attempts"))
    def cleanup_expired_attempts(self, request, queryset):
        cool_off = get_cool_off(request)
        if cool_off is None:
            self.message_user(
                request, gettext("Locked-out users stay locked: no cool-off is set."), messages.INFO
            )
            return
        count, _deleted = AccessAttempt.objects.filter(attempt_time__lte=timezone.now() - cool_off).delete()
        self.message_user(request, gettext("Expired login attempts removed: %(count)d.") % {"count": count})


@admin.register(AccessLog)
class LoginLogAdmin(ValidSelectionAdminMixin, AccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class LoginFailureLogAdmin(ValidSelectionAdminMixin, AccessFailureLogAdmin):
    pass
