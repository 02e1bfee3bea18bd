"""`make live-check`: a conformance run of this provider against a real OOS endpoint.

A user with a Baidu account runs ``python -m airflow_provider_oos.live_check`` (settings from the
environment: ``OOS_ENDPOINT``, ``OOS_ACCESS_KEY``, ``OOS_SECRET_KEY``, optional ``OOS_SESSION_TOKEN``
and ``OOS_REGION``) and attaches the report it writes to an issue. Read-only unless
``--create-from TEMPLATE_NAME`` is given. Every answer is read with the provider's own models and
sent through `OosHook`, so the report says what this provider makes of the live service.

Modules: `settings` (the environment), `recording` (the hook that notes each HTTP exchange),
`shapes` (answer shapes and the fields the tolerant reader kept raw), `checks` (the calls made),
`report` (JSON and Markdown, secrets removed), `cli` (arguments, exit status).
"""
