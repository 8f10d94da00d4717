"""Background work for people, run by the task worker (``manage.py run_worker``)."""

from django.tasks import task

from . import people


@task()
def send_set_password_emails(user_ids, base_url):
    """E-mail each of these users a set-password link; see people.queue_set_password_emails."""
    return people.send_set_password_emails(user_ids, base_url)
