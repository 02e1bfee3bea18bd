"""`make airflow`: a real local Airflow deployment of the provider, run in the background.

- `config`    where everything lives, the ports, the login, the instances the examples use,
              the airflow.cfg of the deployment;
- `postgres`  a throwaway PostgreSQL cluster from the binaries on the machine (run as a
              non-root user), or SQLite where there are none;
- `services`  start / stop / status of the emulator, api-server, scheduler, dag-processor
              and two triggerers (`python -m scripts.deploy start|stop|status`), and of the
              two Celery workers with `start --executor celery` (`make airflow EXECUTOR=celery`);
- `celery_workers`  Redis (Debian's redis-server) as the Celery broker, the workers' roll call;
- `failover`  `make failover`: 200 deferred waits, one triggerer SIGKILLed;
- `worker_failover`  `make worker-failover`: non-deferrable waits, one Celery worker SIGKILLed.
"""
