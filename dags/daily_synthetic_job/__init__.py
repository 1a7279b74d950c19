"""The daily_synthetic DAG's job container, as the DAG sees it: one policy, three launchers.

`policy` holds what every launcher shares (settings from the worker's environment, the
manifest, the exit-code policy, timeouts); `docker`, `ecs` and `kubernetes` each wrap one
provider's operator around it; `launchers` picks one from DAILY_SYNTHETIC_LAUNCHER and imports
only that provider. Airflow puts the dags folder on sys.path, so the DAG file imports this
package by name; dags/.airflowignore keeps the DAG processor from parsing it as DAG files.
Like the DAG, it imports only the standard library and Airflow (providers included).
"""
