#!/usr/bin/env python
"""Django: receive iDenfy, ComplyCube, Yoti and Identomat webhooks.

Run from this directory (examples/django_project):

    pip install -e "../..[django]"     # the checkout: no release is published yet
    export IDENFY_SIGNING_KEY=... COMPLYCUBE_SECRET=... IDENTOMAT_API_KEY=...
    export YOTI_AUTH_TOKEN=user:pass   # and YOTI_AUTH_TYPE=bearer if the session says so
    python manage.py migrate          # the inbox tables (the store is DjangoStore)
    python manage.py runserver

    # or under ASGI:  uvicorn django_project.asgi:application

Endpoints (POST only, CSRF-exempt): /webhooks/idenfy, /webhooks/complycube, /webhooks/yoti,
/webhooks/identomat, and /webhooks/, which tells the vendor from the request (with its slash:
Django's APPEND_SLASH answers /webhooks with a redirect, which a POST cannot follow). The
receiver and its handlers live in django_project/webhooks.py, the routes in
django_project/urls.py.

Then, in another shell with the same variables, post signed samples of every event type:

    kyc-webhooks send --vendor all --to http://127.0.0.1:8000/webhooks --vendor-path
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
