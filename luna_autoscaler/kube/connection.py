"""How the daemon finds its cluster: the same order as controller-runtime, so operators meet no surprises.

1. an explicit `--kubeconfig` path;
2. the KUBECONFIG environment variable (one path, or several joined by ':' and merged as kubectl does);
3. the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT + the mounted token and CA), the normal case;
4. ~/.kube/config.

The first that applies is used; if it is broken, the error says which source it was and why, and the others are
not tried behind the operator's back. Each call returns a new ApiClient with its own Configuration (the client's
global default is never touched), with a connection pool large enough for the watches plus the loop's calls, and
with urllib3's own retries limited to connecting (see below).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path

import urllib3
from kubernetes import client as k8s
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.config.kube_config import load_kube_config

from luna_autoscaler.errors import ConfigError
from luna_autoscaler.kube.rest import CALL_ERRORS, classify, parse_json

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = Path("~/.kube/config")
POOL_SIZE = 16  # five watch streams, the loop's calls, the elector, Events
PROBE_TIMEOUT_SECONDS = 5.0  # a live API server answers /version in milliseconds; a dead one should not cost more


def _source(kubeconfig: str | None, environ: Mapping[str, str], service_account_dir: Path) -> tuple[str, str | None]:
    """(description, kubeconfig path or None for in-cluster)."""
    if kubeconfig:
        return f"--kubeconfig {kubeconfig}", kubeconfig
    if environ.get("KUBECONFIG"):
        return f"KUBECONFIG={environ['KUBECONFIG']}", environ["KUBECONFIG"]
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return f"in-cluster service account ({service_account_dir})", None
    default = DEFAULT_KUBECONFIG.expanduser()
    if default.exists():
        return str(default), str(default)
    raise ConfigError(
        "no Kubernetes cluster to talk to: give --kubeconfig, set KUBECONFIG, run in a pod with a service account, "
        f"or create {DEFAULT_KUBECONFIG}"
    )


def connect(
    kubeconfig: str | None = None,
    *,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> k8s.ApiClient:
    """An ApiClient for the cluster (see the module docstring); ConfigError if none can be configured."""
    env = os.environ if environ is None else environ
    description, path = _source(kubeconfig, env, service_account_dir)
    configuration = k8s.Configuration()
    try:
        if path is None:
            loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
                token_filename=str(service_account_dir / "token"),
                cert_filename=str(service_account_dir / "ca.crt"),
                environ=env,
            )
            loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        else:
            load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as e:
        raise ConfigError(f"cannot configure the Kubernetes client from {description}: {e}") from e
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, POOL_SIZE)
    # The adapter retries on its own terms (classified, with backoff, logged, stoppable); urllib3 by default
    # would also sleep through Retry-After inside a call and re-send requests. Let it only retry connecting.
    configuration.retries = urllib3.Retry(
        total=3, connect=3, read=0, status=0, other=0, redirect=0, respect_retry_after_header=False
    )
    return k8s.ApiClient(configuration)


def check_reachable(api: k8s.ApiClient, *, timeout_seconds: float = PROBE_TIMEOUT_SECONDS) -> str:
    """The API server's version (`GET /version`), asked once, with a short timeout and no retries.

    The daemon's watches retry an unreachable server for as long as the cache may take to sync, which is right for
    a server that blips and wrong for a kubeconfig that points at nothing: this says so in one line, in seconds.
    ConfigError naming the server when it does not answer, rejects our credentials (401) or is not a Kubernetes API
    server (404).
    """
    configuration = copy.deepcopy(api.configuration)
    configuration.retries = False
    probe = k8s.ApiClient(configuration)
    try:
        # VersionApi alone: the client builds its API classes lazily and the full set costs seconds to import.
        response: urllib3.BaseHTTPResponse = k8s.VersionApi(probe).get_code(  # type: ignore[assignment]
            _preload_content=False, _request_timeout=timeout_seconds
        )
        try:
            body = parse_json(response.data)
        finally:
            response.release_conn()
    except CALL_ERRORS as raw:
        e = classify(raw, "GET /version")
        if e.status == 401:
            raise ConfigError(
                f"the Kubernetes API server {configuration.host} rejected our credentials (HTTP 401): check the "
                "kubeconfig's user or the service account token"
            ) from e
        if e.status is None:
            raise ConfigError(
                f"cannot reach the Kubernetes API server {configuration.host} within {timeout_seconds:g}s "
                f"({_root_cause(raw)}): check the kubeconfig's server address and that the cluster is up"
            ) from e
        if e.status == 404:
            raise ConfigError(
                f"{configuration.host} answers, but not as a Kubernetes API server (GET /version: HTTP 404): check "
                "the kubeconfig's server address"
            ) from e
        return ""  # it answered (403: anonymous /version forbidden; 5xx: unwell): the daemon's retries take over
    finally:
        probe.close()  # type: ignore[no-untyped-call]
    return str(body.get("gitVersion", "")) if isinstance(body, Mapping) else ""


def _root_cause(error: BaseException) -> str:
    """The innermost OS-level reason (`[Errno 111] Connection refused`, `timed out`), not urllib3's wrapping."""
    cause: BaseException = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause) or type(cause).__name__
