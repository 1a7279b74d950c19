"""The kubernetes launcher: the job container as a pod (KubernetesPodOperator).

The pod runs as the image's user (uid/gid 10001), with a read-only root filesystem, no
privilege escalation, no capabilities and the runtime's seccomp profile; /tmp is an
emptyDir (the job's scratch space) sized from `rows`, and the pod's ephemeral-storage limit
is that plus an allowance for its log (the kubelet counts both). S3 access comes from the
service account (IRSA on EKS, or the cluster's workload identity), never from keys; the
API token Kubernetes would mount is not mounted (IRSA projects a token of its own).
deploy/kubernetes/ holds the same settings as a plain Job manifest and the service account.

Settings from the worker's environment (template-field callables):
DAILY_SYNTHETIC_K8S_NAMESPACE, DAILY_SYNTHETIC_K8S_SERVICE_ACCOUNT, plus DAILY_SYNTHETIC_IMAGE,
DAILY_SYNTHETIC_MEM_LIMIT and the pass-through variables. The cluster is the Airflow
connection `kubernetes_default` (or in-cluster configuration).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk.exceptions import AirflowException

from daily_synthetic_job import limits
from daily_synthetic_job.policy import (
    DAILY_JOB,
    STOP_GRACE_SECONDS,
    Job,
    JobTask,
    container_labels,
    day_of,
    explain,
    memory_mib,
    rows_of,
)

JOB_UID = 10001  # the image's USER (job.Dockerfile)
DEFAULT_NAMESPACE = "daily-synthetic"
DEFAULT_SERVICE_ACCOUNT = "daily-synthetic-job"
BASE_CONTAINER = "base"  # KubernetesPodOperator's name for the container it runs
SCRATCH = "/tmp"  # noqa: S108 - the job's TMPDIR, an emptyDir under a read-only root
LOG_TAIL = 50

# Plain API dicts (a pod template), so that parsing the DAG needs no Kubernetes client import.
POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": JOB_UID,
    "runAsGroup": JOB_UID,
    "fsGroup": JOB_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def namespace_from_env(context: Mapping[str, Any], jinja_env: Any) -> str:
    return os.environ.get("DAILY_SYNTHETIC_K8S_NAMESPACE") or DEFAULT_NAMESPACE


def service_account_from_env(context: Mapping[str, Any], jinja_env: Any) -> str:
    return os.environ.get("DAILY_SYNTHETIC_K8S_SERVICE_ACCOUNT") or DEFAULT_SERVICE_ACCOUNT


class PodTemplate:
    """The pod around a job's container: security, scratch and memory, sized when rendered
    (memory from the worker's env, scratch and ephemeral storage from `rows`)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, context: Mapping[str, Any], jinja_env: Any) -> dict[str, Any]:
        memory = f"{memory_mib(self.job.mem_limit(context, jinja_env))}Mi"
        rows = rows_of(context) if "params" in context else 1_000_000  # deploy/ review only
        security = dict(CONTAINER_SECURITY)
        security["readOnlyRootFilesystem"] = self.job.read_only_root
        limit = {"memory": memory}
        scratch: dict[str, Any] = {}  # an unsized job keeps /tmp in its own layer
        if days := self.job.scratch_days:
            scratch = {"sizeLimit": f"{limits.scratch_mib(rows, days)}Mi"}
            limit["ephemeral-storage"] = f"{limits.ephemeral_storage_mib(rows, days)}Mi"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.job.name},
            "spec": {
                "securityContext": POD_SECURITY,
                "restartPolicy": "Never",
                # IRSA projects its own token; the API token is of no use to the job.
                "automountServiceAccountToken": False,
                "volumes": [{"name": "scratch", "emptyDir": scratch}],
                "containers": [
                    {
                        "name": BASE_CONTAINER,
                        "securityContext": security,
                        # Memory request = limit: the job's peak is what it needs.
                        "resources": {
                            "requests": {"memory": memory, "cpu": "1"},
                            "limits": limit,
                        },
                        "volumeMounts": [{"name": "scratch", "mountPath": SCRATCH}],
                    }
                ],
            },
        }


pod_template = PodTemplate(DAILY_JOB)


class PodJobOperator(JobTask, KubernetesPodOperator):
    """KubernetesPodOperator for the job image, with the shared job policy.

    The manifest and the error line are read from the pod's log before the pod is deleted;
    the exit code from the container's terminated state (reason OOMKilled included).
    """

    template_fields = (*KubernetesPodOperator.template_fields, "service_account_name")

    def __init__(self, *, command: list[str], environment: Any, **kwargs: Any) -> None:
        super().__init__(arguments=command, env_vars=environment, **kwargs)
        self.job_log: list[str] = []
        self.job_exit: Any = None  # the container's V1ContainerStateTerminated

    def execute(self, context: Any) -> dict[str, Any]:
        day_of(self.arguments)
        self.start_clock()
        try:
            super().execute(context)
        except AirflowException as exc:
            if self.job_exit is None or self.job_exit.exit_code is None:
                raise
            oom = self.job_exit.reason == "OOMKilled"
            raise explain(int(self.job_exit.exit_code), self.job_log, oom_killed=oom) from exc
        return self.publish(context, self.job_log)

    def cleanup(self, pod: Any, remote_pod: Any, *args: Any, **kwargs: Any) -> None:
        # Runs before the pod is deleted: keep its exit state and the tail of its log.
        if remote_pod is not None and remote_pod.status is not None:
            for status in remote_pod.status.container_statuses or []:
                if status.name == self.base_container_name and status.state is not None:
                    self.job_exit = status.state.terminated
            self.job_log = self._log_tail(remote_pod)
        super().cleanup(pod, remote_pod, *args, **kwargs)

    def _log_tail(self, pod: Any) -> list[str]:
        try:
            text = self.client.read_namespaced_pod_log(
                name=pod.metadata.name,
                namespace=pod.metadata.namespace,
                container=self.base_container_name,
                tail_lines=LOG_TAIL,
            )
        except Exception as exc:  # the log is for the message; never mask the real failure
            self.log.warning("could not read the job's log: %s", exc)
            return []
        return str(text).splitlines()


def container(job: Job) -> dict[str, Any]:
    """The operator's arguments for every task that runs `job`."""
    return {
        "job": job.name,
        "image": job.image,
        "cmds": list(job.entrypoint) or None,
        "environment": job.environment,
        "pod_template_dict": PodTemplate(job),
        "name": job.name,
        **COMMON,
    }


COMMON: dict[str, Any] = {
    "namespace": namespace_from_env,
    "service_account_name": service_account_from_env,
    "annotations": container_labels,  # run ids are not valid label values; KPO adds its labels
    "base_container_name": BASE_CONTAINER,
    "termination_grace_period": STOP_GRACE_SECONDS,
    "image_pull_policy": "IfNotPresent",
    "get_logs": True,
    "do_xcom_push": False,  # the manifest comes from the log, no sidecar needed
    "on_finish_action": "delete_pod",
    "durable": True,  # a retry after a worker died reattaches to the running pod
}
CONTAINER = container(DAILY_JOB)

OPERATOR = PodJobOperator
DESCRIPTION = "Kubernetes pods"
