"""Hand-off of deferred deliveries to the task queues teams already run (docs/scaling-out.md,
"Workers"): :mod:`kyc_webhooks.contrib.celery`, :mod:`kyc_webhooks.contrib.dramatiq` and
:mod:`kyc_webhooks.contrib.procrastinate`, each a ``register(...)`` of the same shape.

Importing this package imports no queue library; each module imports its own when
``register()`` is called.
"""
