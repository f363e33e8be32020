#!/usr/bin/python3
"""Checks deploy/ manifests without a cluster or a Docker engine: every YAML and JSON file
parses, Kubernetes objects carry what production needs (probes, resources, non-root, read-only
root, no capabilities, one Recreate agent; the S3 receiver Deployment with keys from files, an
emptyDir spool and ClientIP affinity), compose keeps secrets in *_FILE keys and gates
start-up on health, and the dashboard only queries metrics the programs export.
Usage: check_manifests.py SOURCE_DIR"""
import json
import pathlib
import re
import sys

import yaml

root = pathlib.Path(sys.argv[1])
deploy = root / "deploy"
problems = []


def fail(where, what):
    problems.append(f"{where}: {what}")


def secretish(name):
    return (any(word in name for word in ("PASSWORD", "TOKEN", "SECRET", "ACCESS_KEY"))
            and not name.endswith("_FILE"))


# --- Kubernetes ---------------------------------------------------------------------------
objects = []
for path in sorted((deploy / "k8s").glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc is None:
            continue
        where = f"{path.name}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        for field in ("apiVersion", "kind"):
            if field not in doc:
                fail(where, f"missing {field}")
        if doc.get("kind") != "Kustomization" and not doc.get("metadata", {}).get("name"):
            fail(where, "missing metadata.name")
        objects.append((where, doc))

kustomization = yaml.safe_load((deploy / "k8s" / "kustomization.yaml").read_text())
for res in kustomization.get("resources", []):
    if not (deploy / "k8s" / res).exists():
        fail("kustomization.yaml", f"resource {res} does not exist")

workloads = [(w, d) for w, d in objects if d.get("kind") in ("Deployment", "StatefulSet")]
# The receiver comes two ways: a StatefulSet with a volume (receiver.yaml, the default) and,
# for STORAGE_BACKEND=s3, a Deployment of stateless replicas (receiver-s3.yaml).
if {(d["kind"], d["metadata"]["name"]) for _, d in workloads} != {
        ("Deployment", "pgship-agent"), ("StatefulSet", "pgship-receiver"),
        ("Deployment", "pgship-receiver")}:
    fail("k8s", "expected the pgship-agent Deployment, the pgship-receiver StatefulSet and "
         "the pgship-receiver Deployment (S3)")
for where, d in workloads:
    spec = d["spec"]
    pod = spec["template"]["spec"]
    if spec["selector"]["matchLabels"].items() - spec["template"]["metadata"]["labels"].items():
        fail(where, "selector does not match the pod labels")
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        fail(where, "pod securityContext.runAsNonRoot is not true")
    for c in pod["containers"]:
        cw = f"{where}/{c['name']}"
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                fail(cw, f"no {probe}")
        res = c.get("resources", {})
        if not res.get("requests") or not res.get("limits"):
            fail(cw, "resources need requests and limits")
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            fail(cw, "readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(cw, "allowPrivilegeEscalation is not false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            fail(cw, "capabilities do not drop ALL")
        for e in c.get("env", []):
            if secretish(e["name"]) and "value" in e:
                fail(cw, f"{e['name']} carries a secret in an environment value")
    if d["metadata"]["name"] == "pgship-agent":
        if spec.get("replicas") != 1 or spec.get("strategy", {}).get("type") != "Recreate":
            fail(where, "the agent must run one replica with strategy Recreate")
        probes = {c["livenessProbe"]["httpGet"]["path"] for c in pod["containers"]}
        if probes != {"/livez"}:
            fail(where, "the agent's liveness probe must be /livez")
        # A failed run or a receiver outage turns /health 503; a readiness probe on it would
        # take the agent out of the Service Prometheus scrapes, just when its alerts matter.
        ready = {c["readinessProbe"]["httpGet"]["path"] for c in pod["containers"]}
        if "/health" in ready:
            fail(where, "the agent's readiness probe must not be /health")
    if d["metadata"]["name"] == "pgship-receiver":
        # /health turns 503 on a scrub finding (one client's backup) and on low free space: a
        # probe on it would take a receiver that serves out of its Service, or restart it.
        ready = {c["readinessProbe"].get("httpGet", {}).get("path") for c in pod["containers"]}
        if ready != {"/readyz"}:
            fail(where, "the receiver's readiness probe must be /readyz, not " + str(sorted(ready)))
        alive = {c["livenessProbe"].get("httpGet", {}).get("path") for c in pod["containers"]}
        if "/health" in alive:
            fail(where, "the receiver's liveness probe must not be /health")
# The S3 receiver: keys from files, the spool on an emptyDir, and a Service that keeps a
# client on one replica (a tus upload's spool is on the replica that took its first PATCH).
for where, d in workloads:
    if d["kind"] != "Deployment" or d["metadata"]["name"] != "pgship-receiver":
        continue
    pod = d["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for c in pod["containers"] for e in c.get("env", [])}
    if env.get("STORAGE_BACKEND") != "s3":
        fail(where, "a receiver Deployment must set STORAGE_BACKEND=s3 (its disk is not kept)")
    for key in ("S3_ACCESS_KEY_ID_FILE", "S3_SECRET_ACCESS_KEY_FILE"):
        if key not in env:
            fail(where, f"no {key}")
    mounts = {m["mountPath"]: m["name"] for c in pod["containers"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    spool = volumes.get(mounts.get(env.get("STORAGE_DIR")), {})
    if "emptyDir" not in spool:
        fail(where, "STORAGE_DIR (the spool) is not an emptyDir")
    file = where.split(":")[0]
    services = [o for w, o in objects if w.split(":")[0] == file and o.get("kind") == "Service"]
    if not services or any(o["spec"].get("sessionAffinity") != "ClientIP" for o in services):
        fail(where, "its Service needs sessionAffinity: ClientIP (tus resumes)")
# receiver.yaml and receiver-s3.yaml both define the Service pgship-receiver: one at a time.
if {"receiver.yaml", "receiver-s3.yaml"} <= set(kustomization.get("resources", [])):
    fail("kustomization.yaml", "lists both receiver.yaml and receiver-s3.yaml")
for where, d in objects:
    if d.get("kind") == "ConfigMap":
        for key in d.get("data", {}):
            if secretish(key):
                fail(where, f"{key} is a secret in a ConfigMap")

# --- docker compose -----------------------------------------------------------------------
compose = yaml.safe_load((deploy / "docker-compose.yml").read_text())
services = compose["services"]
for name, svc in services.items():
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    for key in env:
        if secretish(key):
            fail(f"compose/{name}", f"{key} puts a secret in environment: (use {key}_FILE)")
    for dep, cond in (svc.get("depends_on") or {}).items():
        if dep not in services:
            fail(f"compose/{name}", f"depends on unknown service {dep}")
    for secret in svc.get("secrets", []):
        if secret not in compose.get("secrets", {}):
            fail(f"compose/{name}", f"secret {secret} is not declared")
# Published ports stay on loopback unless the operator says otherwise (the receiver's address
# comes from RECEIVER_BIND_ADDR, loopback by default).
for name, svc in services.items():
    for port in svc.get("ports", []):
        spec = str(port)
        if not (spec.startswith("127.0.0.1:") or re.match(r"\$\{[A-Z_]+:-127\.0\.0\.1\}:", spec)):
            fail(f"compose/{name}", f"port {spec} is published on every interface")
# Compose v1 (Debian 12's docker-compose) rejects a top-level `name:`; both read deploy/.env.
if "name" in compose:
    fail("compose", "top-level name: breaks compose v1; set COMPOSE_PROJECT_NAME in deploy/.env")
dotenv = deploy / ".env"
if not dotenv.exists() or "COMPOSE_PROJECT_NAME=pgship" not in dotenv.read_text().splitlines():
    fail("deploy/.env", "does not set COMPOSE_PROJECT_NAME=pgship")
# The secrets the README has operators create must reach neither git nor the build context.
for ignore in (".gitignore", ".dockerignore"):
    lines = [l.strip().strip("/") for l in (root / ignore).read_text().splitlines()]
    if "deploy/secrets" not in lines:
        fail(ignore, "does not exclude deploy/secrets/")
for name in ("postgres", "receiver", "agent"):
    if "healthcheck" not in services.get(name, {}):
        fail(f"compose/{name}", "no healthcheck")
# The receiver's healthcheck gates the agent (service_healthy): it must ask readiness
# (`pgship-receiver healthcheck` asks /readyz), never /health, which a scrub finding or low free
# space turns 503 and would then keep the whole stack from coming up.
receiver_check = services.get("receiver", {}).get("healthcheck", {}).get("test", [])
receiver_check_text = " ".join(receiver_check) if isinstance(receiver_check, list) else receiver_check
if "/health" in receiver_check_text or "--full" in receiver_check_text or not (
        "/readyz" in receiver_check_text or receiver_check_text.rstrip().endswith(" healthcheck")):
    fail("compose/receiver", "healthcheck must ask readiness (/readyz or `healthcheck` without "
         f"--full), not {receiver_check_text!r}")
agent_deps = services["agent"].get("depends_on", {})
for dep in ("postgres", "receiver"):
    if agent_deps.get(dep, {}).get("condition") != "service_healthy":
        fail("compose/agent", f"must wait for {dep} to be healthy")
for volume_spec in services["prometheus"].get("volumes", []) + services["grafana"].get("volumes", []):
    source = volume_spec.split(":")[0]
    if source.startswith("./") and not (deploy / source).exists():
        fail("compose", f"mounts {source}, which does not exist")

# --- Prometheus, Grafana ------------------------------------------------------------------
prom = yaml.safe_load((deploy / "prometheus" / "prometheus.yml").read_text())
jobs = {j["job_name"] for j in prom["scrape_configs"]}
if jobs != {"pgship-agent", "pgship-receiver"}:
    fail("prometheus.yml", f"scrape jobs {sorted(jobs)}")
for path in (deploy / "grafana" / "provisioning").rglob("*.yml"):
    yaml.safe_load(path.read_text())

exported = set()
for source in ("agent/daemon/agent_metrics.cpp", "receiver/state/metrics.cpp"):
    exported |= set(re.findall(r'\.Name\("([a-z_]+)"\)', (root / source).read_text()))
dashboard = json.loads((deploy / "grafana" / "dashboards" / "pgship.json").read_text())
for panel in dashboard["panels"]:
    for target in panel.get("targets", []):
        for metric in re.findall(r"\b(pgship_[a-z_]+)", target["expr"]):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            if metric not in exported and base not in exported:
                fail(f"dashboard/{panel['title']}", f"queries {metric}, which nothing exports")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"deploy manifests ok: {len(objects)} Kubernetes objects, {len(services)} compose "
      f"services, {len(dashboard['panels'])} dashboard panels")
