"""The configuration ConfigMap, watched and hot-reloaded, keeping the last good configuration on a bad update.

The ConfigMap (default `luna-autoscaler-config` in namespace `luna-autoscaler`, the namespace the daemon is
deployed in) is watched like any other resource (a reflector with a metadata.name field selector). Each new
`data` is parsed by `luna_autoscaler.config.config_from_configmap_data`; a valid one replaces the current
configuration at once, an invalid one is reported (structlog error + a Warning Event with reason ConfigInvalid on
the ConfigMap, naming the key and why) and the last good configuration stays in force. A ConfigMap that does not
exist, or is deleted, means "no cluster configuration": `config()` is None and the caller uses its local/default
configuration. Re-lists deliver the same data again; unchanged data is not parsed or reported twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog

from luna_autoscaler.config import Config, config_from_configmap_data
from luna_autoscaler.errors import ConfigError
from luna_autoscaler.kube.reflector import Json
from luna_autoscaler.ports import ObjectRef

log = structlog.get_logger("luna_autoscaler.kube")

CONFIG_INVALID = "ConfigInvalid"
DEFAULT_CONFIGMAP_NAME = "luna-autoscaler-config"
DEFAULT_CONFIGMAP_NAMESPACE = "luna-autoscaler"

Report = Callable[[ObjectRef, str], object]


class ConfigSource:
    """A reflector sink for the one ConfigMap; `config()` is the last good configuration."""

    def __init__(self, name: str, namespace: str, *, report: Report) -> None:
        self.name = name
        self.namespace = namespace
        self._report = report
        self._lock = threading.Condition()
        self._config: Config | None = None
        self._problem: str | None = None
        self._data: Mapping[str, Any] | None = None
        self._generation = 0

    def config(self) -> Config | None:
        with self._lock:
            return self._config

    def problem(self) -> str | None:
        """Why the current ConfigMap data is not in force (None: it is, or there is no ConfigMap)."""
        with self._lock:
            return self._problem

    @property
    def generation(self) -> int:
        """Counts every change of the ConfigMap's data seen (valid or not, or the ConfigMap going away)."""
        with self._lock:
            return self._generation

    def wait_for_change(self, after_generation: int, timeout_seconds: float) -> int:
        with self._lock:
            self._lock.wait_for(lambda: self._generation > after_generation, timeout_seconds)
            return self._generation

    def _bump(self) -> None:
        """Called with the lock held after a change: wakes wait_for_change."""
        self._generation += 1
        self._lock.notify_all()

    def _ours(self, obj: Json) -> bool:
        meta = obj.get("metadata") or {}
        return bool(meta.get("name") == self.name and meta.get("namespace") == self.namespace)

    def replace(self, objects: Iterable[Json], resource_version: str) -> None:
        ours = [o for o in objects if self._ours(o)]
        if ours:
            self._load(ours[0])
        else:
            self._gone()

    def upsert(self, obj: Json, resource_version: str) -> None:
        if self._ours(obj):
            self._load(obj)

    def remove(self, obj: Json, resource_version: str) -> None:
        if self._ours(obj):
            self._gone()

    def _gone(self) -> None:
        with self._lock:
            had = self._data is not None
            self._config, self._problem, self._data = None, None, None
            if had:
                self._bump()
        if had:
            log.warning("kube.config_removed", configmap=f"{self.namespace}/{self.name}", using="local or defaults")

    def _load(self, obj: Json) -> None:
        data = dict(obj.get("data") or {})
        with self._lock:
            if data == self._data:
                return
            self._data = data
        where = f"ConfigMap {self.namespace}/{self.name}"
        try:
            config = config_from_configmap_data(data, source=where)
        except (ConfigError, TypeError, ValueError) as e:
            with self._lock:
                self._problem = str(e)
                kept = (
                    "the last good configuration" if self._config is not None else "the local or default configuration"
                )
            log.error("kube.config_invalid", configmap=f"{self.namespace}/{self.name}", error=str(e), keeping=kept)
            uid = str((obj.get("metadata") or {}).get("uid") or "")
            self._report(
                ObjectRef("ConfigMap", self.name, self.namespace, uid), f"Invalid configuration, keeping {kept}: {e}"
            )
            with self._lock:
                self._bump()
            return
        with self._lock:
            self._config, self._problem = config, None
            self._bump()
        log.info("kube.config_loaded", configmap=f"{self.namespace}/{self.name}", keys=sorted(data))
