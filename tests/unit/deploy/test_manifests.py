"""What can be checked offline about deploy/: the kustomize overlays render,
every standard manifest validates against the Kubernetes schemas, the
invariants we promise hold (probes, limits, non-root, read-only root,
disruption budgets, autoscaling for every consumer), the compose file and the
image's build file are sound."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
SERVICES = ("accounts", "contributions", "documents", "notifications", "messaging", "gateway")
CONSUMERS = ("contributions", "documents", "notifications", "messaging")
KUBERNETES_VERSION = "1.30.0"
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "RabbitmqCluster", "Cluster", "Database"}


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl (for kustomize) is not installed; .ci/run installs it")
        pytest.skip("kubectl not installed: `apt-get install kubectl` to render the overlays")
    out = subprocess.run([kubectl, "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
                         capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=["development", "production"])
def manifests(request):
    return request.param, render(request.param)


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_standard_manifests_validate_against_the_kubernetes_schemas(manifests):
    import kubernetes_validate

    _, docs = manifests
    checked = 0
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 20


def test_custom_resources_are_the_operators_kinds(manifests):
    _, docs = manifests
    kinds = {(d["apiVersion"], d["kind"]) for d in docs if d["kind"] in CUSTOM_KINDS}
    assert kinds == {("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication"),
                     ("rabbitmq.com/v1beta1", "RabbitmqCluster"), ("postgresql.cnpg.io/v1", "Cluster"),
                     ("postgresql.cnpg.io/v1", "Database")}


def test_every_service_is_a_hardened_deployment_with_probes_and_limits(manifests):
    _, docs = manifests
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["args"] == ["serve", name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        env = {e["name"]: e for e in container.get("env", [])}
        assert "secretKeyRef" in env["CARPIMKO_AMQP_URI"]["valueFrom"]  # secrets never inline
        if name != "gateway":
            assert "secretKeyRef" in env[f"CARPIMKO_{name.upper()}_DATABASE_URL"]["valueFrom"]


def test_disruption_budgets_autoscaling_and_network_policies(manifests):
    _, docs = manifests
    assert set(by_kind(docs, "PodDisruptionBudget")) == set(SERVICES)
    scaled = by_kind(docs, "ScaledObject")
    assert set(scaled) == set(CONSUMERS)
    for name, obj in scaled.items():
        (trigger,) = obj["spec"]["triggers"]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"].endswith(f"--{name}.on_" + trigger["metadata"]["queueName"].split(".on_")[1])
    assert set(by_kind(docs, "HorizontalPodAutoscaler")) == {"gateway", "accounts"}
    policies = by_kind(docs, "NetworkPolicy")
    assert policies["default-deny"]["spec"]["podSelector"] == {}


def test_quorum_queues_and_migrations_before_rollout(manifests):
    _, docs = manifests
    config = by_kind(docs, "ConfigMap")["carpimko-config"]["data"]
    assert config["CARPIMKO_QUEUE_TYPE"] == "quorum"
    job = by_kind(docs, "Job")["carpimko-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate-and-setup"]


def test_overlays_differ_where_they_should():
    dev = by_kind(render("development"), "Deployment")
    prod = by_kind(render("production"), "Deployment")
    assert all(d["spec"]["replicas"] == 1 for d in dev.values())
    assert all(d["spec"]["replicas"] == 2 for d in prod.values())


def test_compose_file_parses_and_starts_everything_with_health_checks():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(SERVICES) | {"rabbitmq", "postgres", "migrate"} <= set(services)
    assert "management" in services["rabbitmq"]["image"]
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["serve", name]
        assert service["read_only"] is True
        assert "readyz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["deploy"]["replicas"] >= 1


def test_dockerfile_is_multi_stage_non_root_and_picks_the_service_by_command():
    text = (DEPLOY / "Dockerfile").read_text()
    froms = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(froms) == 2 and " AS build" in froms[0]
    user_lines = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1].split()[1].split(":")[0] != "0"
    assert 'ENTRYPOINT ["python", "-m", "ops.cli"]' in text
    hadolint = shutil.which("hadolint")
    if hadolint:
        subprocess.run([hadolint, str(DEPLOY / "Dockerfile")], check=True)
