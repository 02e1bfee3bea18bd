"""The OOS execution view inside the Airflow UI (Airflow >= 3.1): an Airflow plugin declared in the
provider info (``execution_view``), its FastAPI app (``app``), what a task instance produced
(``task_instance``) and the HTML page (``render``)."""
