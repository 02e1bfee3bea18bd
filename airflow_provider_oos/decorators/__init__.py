"""TaskFlow decorators of the provider (``@task.oos_shell``), registered under ``task-decorators``."""
