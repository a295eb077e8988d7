"""Flask: receive iDenfy, ComplyCube, Yoti and Identomat webhooks.

Run from the repository root (Flask >= 3.1 recommended: it caps streamed bodies too):

    pip install -e ".[flask]"      # from the checkout: no release is published yet
    export IDENFY_SIGNING_KEY=... COMPLYCUBE_SECRET=... IDENTOMAT_API_KEY=...
    export YOTI_AUTH_TOKEN=user:pass   # and YOTI_AUTH_TYPE=bearer if the session says so
    flask --app examples/flask_app.py run

Endpoints (POST only): /webhooks/idenfy, /webhooks/complycube, /webhooks/yoti,
/webhooks/identomat, and /webhooks, which tells the vendor from the request. Give each vendor
its own URL when you can: a pinned route never has to guess.

Then, in another shell with the same variables, post signed samples of every event type:

    kyc-webhooks send --vendor all --to http://127.0.0.1:5000/webhooks --vendor-path
    kyc-webhooks send --vendor idenfy --tamper --to http://127.0.0.1:5000/webhooks/idenfy  # 401
"""

from __future__ import annotations

import logging

from flask import Flask

from examples._handlers import build_receiver
from kyc_webhooks.integrations.flask import webhook_blueprint

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

receiver = build_receiver()

app = Flask(__name__)
# POST /webhooks and POST /webhooks/<vendor>; handlers run synchronously (plain `def`).
app.register_blueprint(webhook_blueprint(receiver, url_prefix="/webhooks"))
