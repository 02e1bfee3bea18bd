"""The emulator's own tests: its opt-in pytest plugin gives the `oos_emulator` fixtures.

This folder has no `__init__.py`: pytest puts it on `sys.path`, so the tests import their small
signed client as `emulator_client` (nothing from the provider's `tests` package).
"""

pytest_plugins = ["oos_emulator.pytest_plugin"]
