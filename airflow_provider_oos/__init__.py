"""Apache Airflow provider for Baidu AI Cloud OOS (Operation Orchestration Service)."""

__version__ = "0.1.0"
