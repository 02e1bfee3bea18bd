"""The OOS client: everything needed to speak the published OOS API, and no Airflow.

``auth`` (bce-auth-v1), ``connection`` and ``connection_form`` (the ``baidu_oos`` settings),
``model_base`` and ``models`` (the tolerant reader), ``routes`` and ``operations`` (each published
call as data), ``answers`` (the envelope and error mapping), ``retry`` (the one error classifier and
retry policy), ``transport`` (the wire), ``session_pool`` (aiohttp sessions) and ``template_rules``.
The hooks in ``airflow_provider_oos.hooks`` are thin Airflow wrappers around it. Importing this
package imports nothing: import the module you need.
"""
