"""gunicorn settings for `make serve` and production:
`gunicorn --config assessment_portal/gunicorn.conf.py`.

Each value comes from an environment variable (README, "Deploying").
"""

import os

wsgi_app = "assessment_portal.wsgi:application"
bind = os.environ.get("WEB_BIND", "127.0.0.1:8000").split(",")
# Processes x threads = requests served at once. Threads suit this portal:
# most time goes to the database and storage, not Python.
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
# PDF records and large pages may take a while; anything longer is stuck.
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
# Recycle workers now and then so slow leaks (e.g. in PDF rendering) cannot build up.
max_requests = 2000
max_requests_jitter = 200
# One access log line per request on stdout, beside the application's log.
accesslog = "-"
# The addresses of proxies whose X-Forwarded-* headers gunicorn believes.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
