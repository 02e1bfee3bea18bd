"""Root conftest: the fixtures every test folder may use.

The emulator fixtures are the provider's opt-in pytest plugin (installing the provider changes
nobody's pytest); a user's own project enables it with the same line.
"""

pytest_plugins = ["oos_emulator.pytest_plugin", "tests.support.hook_fixtures"]
