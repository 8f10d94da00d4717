from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from assessment_portal.access import get_visible_or_404

from . import services
from .forms import EmailSettingsForm
from .models import Notification

PER_PAGE = 25


def notification_list(request):
    notifications = Notification.objects.visible_to(request.user)
    page = Paginator(notifications, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page})


def open_notification(request, pk):
    """Mark the notification read and go to the page it is about."""
    notification = get_visible_or_404(Notification.objects, request.user, pk=pk)
    services.mark_read(notification)
    if not url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None):
        return redirect("notifications:list")
    return redirect(notification.url)


@require_POST
def mark_all_read(request):
    changed = services.mark_all_read(request.user)
    messages.success(request, f"Marked {changed} notifications as read.")
    return redirect("notifications:list")


def email_settings(request):
    form = EmailSettingsForm(
        request.POST or None,
        user=request.user,
        initial={"kinds": services.emailed_kinds(request.user)},
    )
    if request.method == "POST" and form.is_valid():
        services.set_emailed_kinds(request.user, form.cleaned_data["kinds"])
        messages.success(request, "Your e-mail settings are saved.")
        return redirect("notifications:settings")
    return render(
        request,
        "notifications/settings.html",
        {"form": form, "applies": bool(form.fields["kinds"].choices)},
    )
