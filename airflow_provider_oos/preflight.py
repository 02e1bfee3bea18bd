"""Public path of the preflight check: ``from airflow_provider_oos.preflight import run_preflight``.

The checks are pure task rules (``airflow_provider_oos.rules.preflight``); this module re-exports them.
"""

from airflow_provider_oos.exceptions import OosPreflightError
from airflow_provider_oos.rules.preflight import PreflightReport, run_preflight

__all__ = ["OosPreflightError", "PreflightReport", "run_preflight"]
