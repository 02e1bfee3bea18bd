"""``@task.oos_shell``: the decorated function returns a shell script; OOS runs it on BCC instances.

Like ``@task.bash``: the function runs in the worker (with the context keys it names, e.g. ``params``
or ``ti``) and returns the script. The task then runs ONE ``BCE::Agent::ExecuteShell`` execution
through :class:`~airflow_provider_oos.operators.oos.OosCreateExecutionOperator`, so every safety of
that operator holds (reattach to an earlier try's execution, exactly-once create, the maintenance
window settings, the failure message with the step's reason and log tail, deferral), and returns
the step's outputs (its ``outputContext``) as the XCom return value. The ``execution_id`` and
``console_url`` XComs and the "OOS Execution" link are the operator's.

Example::

    @task.oos_shell(instances=["i-abc123"], shell_user="root", work_dir="/opt/app", step_timeout=600)
    def restart_app(params):
        return f"systemctl restart {params['service']}"
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory
from airflow.sdk.definitions.context import context_merge

from airflow_provider_oos.decorators.shell_step import (
    DEFAULT_STEP_NAME,
    check_script,
    check_shell_options,
    instance_refs,
    shell_template,
)
from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.version_compat import determine_kwargs

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

# What the inherited `template` field holds until the function has returned the script.
SCRIPT_PENDING = "(the ExecuteShell step, built when the task runs from the script the function returns)"
# The decorator builds the template: these operator arguments would contradict it.
_NOT_ACCEPTED = ("template", "template_ref", "template_name")


class OosShellDecoratedOperator(DecoratedOperator, OosCreateExecutionOperator):  # type: ignore[misc]
    """Run the script a Python callable returns as one OOS ``BCE::Agent::ExecuteShell`` execution.

    Made by ``@task.oos_shell``; every argument of
    :class:`~airflow_provider_oos.operators.oos.OosCreateExecutionOperator` applies (``oos_conn_id``,
    ``deferrable``, ``poll_interval``, ``timeout``, ``on_paused``, the window settings, ``reattach``,
    ``tags``, ...) except the template source, which the decorator builds.

    :param python_callable: the decorated function; it returns the script (a non-empty string). The
        returned script is sent as is, not rendered by Jinja (the function already has the context,
        and shell text such as ``${#files[@]}`` is not Jinja).
    :param op_args: positional arguments for the function (templated).
    :param op_kwargs: keyword arguments for the function (templated).
    :param instances: the BCC instances to run on (templated): ids (``["i-abc123"]``), published
        references (``[{"instanceId": "i-abc123"}]``), or either as text once rendered.
    :param shell_user: the user the agent runs the script as (step property ``user``); None: the
        agent's default.
    :param work_dir: the absolute directory the script runs in (step property ``workDir``); None:
        the agent's default.
    :param step_timeout: seconds (or a ``timedelta``) OOS lets the step run (the step's ``timeout``);
        None: one hour. The Airflow wait has its own ``timeout``.
    :param step_name: the step's name in the execution and the key of nothing else (default
        ``shell``).
    """

    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *OosCreateExecutionOperator.template_fields,
        "instances",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        **OosCreateExecutionOperator.template_fields_renderers,
        "instances": "json",
    }
    custom_operator_name = "@task.oos_shell"
    # The rendered-fields view shows the template actually run (with the script), not the placeholder.
    overwrite_rtif_after_execution = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        instances: Sequence[str | Mapping[str, str]] | str | XComArg | None = None,
        shell_user: str | None = None,
        work_dir: str | None = None,
        step_timeout: float | timedelta | None = None,
        step_name: str = DEFAULT_STEP_NAME,
        **kwargs: Any,
    ) -> None:
        given = [name for name in _NOT_ACCEPTED if kwargs.get(name) is not None]
        if given:
            raise TypeError(
                f"@task.oos_shell builds its own ExecuteShell template from the returned script: "
                f"remove {', '.join(given)}; to run a stored template use OosCreateExecutionOperator."
            )
        if kwargs.get("wait_for_completion") is False:
            raise ValueError(
                "wait_for_completion=False: @task.oos_shell returns the step's outputs, so it waits; "
                "use OosCreateExecutionOperator to start an execution without waiting."
            )
        kwargs = {k: v for k, v in kwargs.items() if k not in _NOT_ACCEPTED}
        check_shell_options(step_name, shell_user, work_dir, step_timeout)  # at DAG parse time
        if instances is None:
            raise ValueError('instances is required: the BCC instances to run on, e.g. ["i-abc123"].')
        if not _templated(instances):
            instance_refs(instances)  # a literal list fails at DAG parse time
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            template=SCRIPT_PENDING,
            **kwargs,
        )
        self.instances = instances
        self.shell_user = shell_user
        self.work_dir = work_dir
        self.step_timeout = step_timeout
        self.step_name = step_name

    def execute(self, context: Context) -> Any:
        # Everything is checked before the callable's script reaches any API call.
        refs = instance_refs(self.instances)  # rendered by now
        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        script = check_script(self.python_callable(*self.op_args, **kwargs))
        self.template = shell_template(
            # One name per task: reattach and the create-token lookup list this template's executions.
            name=f"airflow-shell-{self.dag_id}-{self.task_id}",
            script=script,
            instances=refs,
            step_name=self.step_name,
            shell_user=self.shell_user,
            work_dir=self.work_dir,
            step_timeout=self.step_timeout,
            description=f"@task.oos_shell {self.dag_id}.{self.task_id} (from Airflow)",
        )
        return self.step_outputs(super().execute(context))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        return self.step_outputs(super().execute_complete(context, event))

    def step_outputs(self, summary: Mapping[str, Any]) -> dict[str, Any]:
        """The ExecuteShell step's ``outputContext`` from the operator's summary ({} when it has none)."""
        step = summary.get("tasks", {}).get(self.step_name) or {}
        outputs: dict[str, Any] = dict(step.get("outputs") or {})
        return outputs


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list | tuple):
        return any(_templated(item) for item in value)
    if isinstance(value, Mapping):
        return any(_templated(item) for item in value.values())
    return hasattr(value, "resolve")  # an XComArg: resolved at run time


def oos_shell_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> TaskDecorator:
    """``@task.oos_shell``: wrap a function that returns a shell script into an
    :class:`OosShellDecoratedOperator` (its arguments are the decorator's).

    :param python_callable: the function to decorate.
    """
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=OosShellDecoratedOperator,
        **kwargs,
    )
