"""Sessions end after SESSION_COOKIE_AGE seconds without activity.

A session's expiry is set when it is saved. Saving on every request
(SESSION_SAVE_EVERY_REQUEST) would cost a database write per page, so a signed-in
request re-saves the session only when its last refresh is a minute old: the
idle timeout is then exact to within that minute.
"""

import time

REFRESH_AFTER = 60  # seconds
KEY = "_idle_refreshed_at"


def stamp(session):
    session[KEY] = int(time.time())


class SessionIdleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if (
            session is not None
            and user is not None
            and user.is_authenticated
            and time.time() - session.get(KEY, 0) >= REFRESH_AFTER
        ):
            stamp(session)  # marks the session modified: SessionMiddleware saves it
        return response
