"""Runnable examples (a package so that ``examples.fastapi_app`` and ``flask --app
examples/flask_app.py`` both import the shared ``examples._handlers``)."""
