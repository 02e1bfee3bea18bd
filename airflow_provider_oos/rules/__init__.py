"""The pure task rules: what a task decides, with no Airflow and no HTTP library.

``waiting`` (the one waiting state machine), ``reporting`` (progress lines and failure texts),
``window`` (the maintenance-window guard), ``reattach`` (finding an earlier try's execution),
``notify`` (pause and window-closed notifications) and ``preflight`` (read-only checks of a planned
run). Operators, the sensor and the triggers only drive them. Importing this package imports nothing.
"""
