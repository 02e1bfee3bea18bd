"""``python -m airflow_provider_oos.live_check``: see `airflow_provider_oos.live_check.cli`."""

import sys

from airflow_provider_oos.live_check.cli import main

sys.exit(main())
