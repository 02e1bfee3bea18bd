"""An auth manager for the view's tests: Airflow's SimpleAuthManager plus per-DAG read scopes, as
FAB or Keycloak give them (the simple auth manager lets every viewer read every DAG).

Set with ``[core] auth_manager = tests.plugins.auth_manager.DagScopedAuthManager``. A user named
in ``DAG_SCOPES`` may use only the DAGs listed there; everyone else is judged by SimpleAuthManager.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

# "elsewhere" reads another DAG only.
DAG_SCOPES: dict[str, frozenset[str]] = {"elsewhere": frozenset({"some_other_dag"})}


class DagScopedAuthManager(SimpleAuthManager):  # type: ignore[misc]
    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        scope = DAG_SCOPES.get(user.username)
        if scope is not None and (details is None or details.id not in scope):
            return False
        return bool(
            super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
        )
