"""A real Prometheus scraping a real Pushgateway, each started from its installed binary on a free
loopback port in a temporary directory, the way the chaos tests start their servers
(testkit.infra.server_processes.KillableServer); the observability tier pushes a run to it and
evaluates the dashboard's and the alert rules' expressions.

Debian/Ubuntu: `apt install prometheus prometheus-pushgateway` (the Pushgateway binary is
`prometheus-pushgateway` there, `pushgateway` upstream).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.infra.server_processes import HOST, KillableServer, ServerUnavailable

PROMETHEUS_BINARIES = ("prometheus",)
PUSHGATEWAY_BINARIES = ("prometheus-pushgateway", "pushgateway")
INSTALL_HINT = "install prometheus and prometheus-pushgateway (e.g. apt install ...)"


def find_binary(names: Sequence[str], which: Callable[[str], str | None] = shutil.which) -> str:
    """The first of ``names`` on PATH; ServerUnavailable naming them otherwise."""
    for name in names:
        found = which(name)
        if found:
            return found
    raise ServerUnavailable(f"{' or '.join(names)} not found on PATH ({INSTALL_HINT})")


def prometheus_config(pushgateway: str, rule_files: Sequence[Path], interval_s: float) -> str:
    """prometheus.yml (JSON is YAML): scrape the Pushgateway, keeping the pushed job labels."""
    every = f"{interval_s:g}s"
    config = {
        "global": {"scrape_interval": every, "evaluation_interval": every},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [pushgateway]}],
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def http_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def _ready(url: str, _port: int) -> Callable[[], None]:
    def check() -> None:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            if response.status != 200:
                raise RuntimeError(f"{url}/-/ready answered {response.status}")

    return check


def _http_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def pushgateway_server(workdir: Path) -> KillableServer:
    binary = find_binary(PUSHGATEWAY_BINARIES)
    return KillableServer(
        "pushgateway",
        workdir,
        lambda port: [binary, f"--web.listen-address={HOST}:{port}"],
        _ready,
        _http_url,
        signal.SIGTERM,
    )


def prometheus_server(workdir: Path, config: Path) -> KillableServer:
    binary = find_binary(PROMETHEUS_BINARIES)
    return KillableServer(
        "prometheus",
        workdir,
        lambda port: [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
        ],
        _ready,
        _http_url,
        signal.SIGTERM,
    )


@dataclass(frozen=True, slots=True)
class MonitoringStack:
    prometheus_url: str
    pushgateway_url: str

    def query(self, expression: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar) of a PromQL expression; ValueError on a bad one."""
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        try:
            answer = http_json(url)
        except urllib.error.HTTPError as error:  # 400: the expression does not parse
            raise ValueError(f"{expression!r}: {error.read().decode(errors='replace')}") from None
        result = answer["data"]["result"]
        if answer["data"]["resultType"] in {"scalar", "string"}:
            return [{"value": result}]
        return list(result)

    def rules(self) -> list[dict[str, Any]]:
        """Every rule Prometheus loaded, with its query as Prometheus parsed it."""
        groups = http_json(f"{self.prometheus_url}/api/v1/rules")["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]


@contextlib.contextmanager
def monitoring_stack(
    rule_files: Sequence[Path], interval_s: float = 1.0
) -> Iterator[MonitoringStack]:
    """A running Pushgateway and a Prometheus scraping it every ``interval_s`` seconds.

    ServerUnavailable when a binary is missing; a bad rule file stops Prometheus from starting
    (SourceStartError with its log).
    """
    workdir = Path(tempfile.mkdtemp(prefix="testkit-monitoring-"))
    servers: list[KillableServer] = []
    try:
        pushgateway = pushgateway_server(workdir)
        servers.append(pushgateway)
        pushgateway.start()
        config = workdir / "prometheus.yml"
        target = f"{HOST}:{pushgateway.port}"
        config.write_text(prometheus_config(target, rule_files, interval_s), encoding="utf-8")
        prometheus = prometheus_server(workdir, config)
        servers.append(prometheus)
        prometheus.start()
        yield MonitoringStack(prometheus.url, pushgateway.url)
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
