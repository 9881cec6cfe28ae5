"""Pages outside the admin: register, log in and out, and the student's own page."""

import math
from pathlib import PurePosixPath

from axes.helpers import get_client_ip_address, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.forms import HomeworkUploadForm, LoginForm, RegisterForm
from crm.models import StudyRecord
from crm.models.user import USERNAME_TAKEN_MESSAGE
from crm.services.students import customer_of, student_overview, study_records_upload_homework


def home_url(user) -> str:
    """Where a user lands after logging in without a `next`: staff in the admin, others on their page."""
    return reverse("admin:index") if user.is_staff else reverse("me")


def home(request):
    return redirect(home_url(request.current_user))


def register_rate_exceeded(request) -> bool:
    """Count this registration attempt of the client address; True past REGISTER_RATE this hour.

    A fixed window per clock hour in the default cache (shared by the gunicorn workers when
    production sets REDIS_URL); the client address is the one django-axes uses (TRUSTED_PROXY_COUNT).
    """
    if not settings.REGISTER_RATE:
        return False
    hour = timezone.now().strftime("%Y%m%d%H")
    key = f"crm:register-rate:{get_client_ip_address(request)}:{hour}"
    cache.add(key, 0, timeout=60 * 60)
    return cache.incr(key) > settings.REGISTER_RATE


def register(request):
    form = RegisterForm(request.POST) if request.method == "POST" else RegisterForm()
    context = {"form": form, "title": _("Register")}
    if request.method == "POST" and register_rate_exceeded(request):
        # Not validated (nor hashed): the refusal must cost the server nothing.
        keep = {name: request.POST.get(name, "") for name in ("username", "name", "mobile")}
        context["form"] = RegisterForm(initial=keep)
        context["rate_limited"] = _(
            "Too many accounts were registered from your address. Try again in an hour."
        )
        return render(request, "crm/register.html", context, status=429)
    if form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
        except IntegrityError:
            # Another registration took the name (in another case) between the form's check and
            # this insert: the database's constraint refused it.
            form.add_error("username", USERNAME_TAKEN_MESSAGE)
            return render(request, "crm/register.html", context)
        messages.success(
            request,
            _("Your account %(username)s has been created. Log in with it.") % {"username": user.username},
        )
        return redirect("login")
    return render(request, "crm/register.html", context)


class LoginView(auth_views.LoginView):
    template_name = "crm/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True
    extra_context = {"title": gettext_lazy("Log in")}

    def get_default_redirect_url(self):
        return home_url(self.request.user)


class LogoutView(auth_views.LogoutView):
    # Django's LogoutView answers a GET with 405: logging out is a CSRF-protected POST.
    next_page = "login"


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login attempt (ours and the admin's): a translated page."""
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    # The lock counts from the latest failure of the username (each failure while locked restarts it).
    username = (credentials or {}).get("username") or ""
    latest = AccessAttempt.objects.filter(username=username).aggregate(latest=Max("attempt_time"))["latest"]
    until = latest + cool_off if latest and cool_off else None
    context = {"title": _("Too many failed logins"), "minutes": minutes, "until": until}
    return render(request, "crm/locked_out.html", context, status=429)


def me(request):
    return render_me(request)


def render_me(request, *, failed_upload_id=None, failed_upload_form=None):
    customer = customer_of(request.current_user)
    if customer is None:
        return render(request, "crm/no_customer.html", {"title": _("My studies")})
    context = {
        "title": _("My studies"),
        "overview": student_overview(customer=customer),
        "upload_form": HomeworkUploadForm(),
        "failed_upload_id": failed_upload_id,
        "failed_upload_form": failed_upload_form,
    }
    return render(request, "crm/me.html", context)


@require_POST
def homework_upload(request, pk: int):
    # Someone else's record answers 404 like a missing one, whatever the file.
    if not StudyRecord.objects.filter(pk=pk, student__user=request.current_user).exists():
        raise Http404(_("Not found."))
    form = HomeworkUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            study_records_upload_homework(
                user=request.current_user, study_record_id=pk, upload=form.cleaned_data["homework"]
            )
        except StudyRecord.DoesNotExist as error:
            raise Http404(_("Not found.")) from error
        except ValidationError as error:
            form.add_error("homework", error)
        else:
            messages.success(request, _("Your homework has been handed in."))
            return redirect(f"{reverse('me')}#lesson-{pk}")
    return render_me(request, failed_upload_id=pk, failed_upload_form=form)


def homework_file(request, name: str):
    """A homework file (``StudyRecord.homework.url``), for whoever ``homework_readable_by`` allows."""
    record = (
        StudyRecord.objects.homework_readable_by(request.current_user)
        .filter(homework=name)
        .select_related("student", "course_record")
        .first()
    )
    if record is None:
        raise Http404(_("Not found."))
    try:
        handle = record.homework.open("rb")
    except FileNotFoundError as error:
        raise Http404(_("Not found.")) from error
    suffix = PurePosixPath(name).suffix
    student = record.student.name or record.student.qq
    filename = f"{record.course_record.day_num}-{student}{suffix}"
    return FileResponse(handle, as_attachment=True, filename=filename)
