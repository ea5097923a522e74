#!/usr/bin/env python3
"""Writes the benchmark's committed inputs (benches/requests/*.json, benches/settings/*.json,
benches/replay-corp-registry.yml) deterministically. Rerun after editing this file:

    python3 benches/generate.py

Containers as a Deployment generator writes them, distinct images from the corporate registry,
namespace team-a.
"""

import base64
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMESPACE = "team-a"
CORP_REGISTRIES = ["registry.corp.example:5000", "*.corp.example"]


def rules_settings(verify_secrets):
    """Three rules, as a platform team would write them (the bench's settings)."""
    return {
        "rules": [
            {"secret": "corp-registry", "registries": CORP_REGISTRIES, "onMissingSecret": "reject"},
            {"secret": "dockerhub", "images": ["docker.io/acme/**"], "onMissingSecret": "warn"},
            {"secret": "partner-ghcr", "images": ["ghcr.io/partner-co/**"], "onMissingSecret": "skip"},
        ],
        "inject": True,
        "verifySecrets": verify_secrets,
        "checkCredentials": True,
    }


# trusted-repos-policy admits the same images: the registries our three rules name.
TRUSTED_REPOS_SETTINGS = {
    "registries": {"allow": ["registry.corp.example:5000", "*.corp.example", "docker.io", "ghcr.io"]}
}


def container(name, image):
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True}],
    }


def image(index):
    return f"registry.corp.example:5000/team-{index % 7}/service-{index}:1.{index}.0"


def review(name, group, kind, resource, obj):
    gvk = {"group": group, "version": "v1", "kind": kind}
    gvr = {"group": group, "version": "v1", "resource": resource}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": f"bench-{name}",
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "namespace": NAMESPACE,
            "operation": "CREATE",
            "userInfo": {
                "username": "system:serviceaccount:argocd:argocd-application-controller",
                "groups": ["system:serviceaccounts", "system:authenticated"],
            },
            "object": obj,
            "dryRun": False,
        },
    }


def pod_review(size, secrets):
    name = f"pod-{size}"
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {
            "serviceAccountName": "default",
            "imagePullSecrets": [{"name": s} for s in secrets],
            "containers": [container(f"c{i}", image(i)) for i in range(size)],
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}}],
        },
    }
    return review(name, "", "Pod", "pods", obj)


def deployment_review(size, secrets):
    """A Deployment whose template is the Pod of `pod_review`: checked as its Pods (issue 28)."""
    name = f"deployment-{size}"
    pod = pod_review(size, secrets)["request"]["object"]
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod["spec"]},
        },
    }
    return review(name, "apps", "Deployment", "deployments", obj)


def configmap_review():
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": NAMESPACE, "labels": {"app": "billing"}},
        "data": {
            "LOG_LEVEL": "info",
            "app.yaml": "server:\n  port: 8080\nregistry: registry.corp.example:5000/finance/billing:2.4.1\n",
        },
    }
    return review("app-config", "", "ConfigMap", "configmaps", obj)


def dockerconfig_secret(name, registries):
    auth = base64.b64encode(b"bench:FAKE-bench-password").decode()
    auths = {r: {"username": "bench", "password": "FAKE-bench-password", "auth": auth} for r in registries}
    config = json.dumps({"auths": auths}, separators=(",", ":"))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    }


def replay_session():
    """kwctl's session format: the one lookup verification makes for these pods."""
    secret = json.dumps(dockerconfig_secret("corp-registry", CORP_REGISTRIES), separators=(",", ":"))
    return (
        "# kwctl replay session: the one lookup the policy makes for every benches/requests/pod-*\n"
        "# request with settings/image-pull-secrets-verify.json (Secret team-a/corp-registry, fake\n"
        "# credentials for registry.corp.example:5000 and *.corp.example). Written by generate.py.\n"
        "- type: Exchange\n"
        "  request: |\n"
        "    !KubernetesGetResource\n"
        "    api_version: v1\n"
        "    kind: Secret\n"
        "    name: corp-registry\n"
        f"    namespace: {NAMESPACE}\n"
        "    disable_cache: false\n"
        "    field_masks: null\n"
        "  response:\n"
        "    type: Success\n"
        f"    payload: '{secret}'\n"
    )


def write_json(path, value, compact=False):
    """Requests are compact, as the API server sends them; settings are indented to be read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2)
    path.write_text(text + "\n")


def main():
    requests = HERE / "requests"
    write_json(requests / "configmap.json", configmap_review(), compact=True)
    for size in (1, 10, 100):
        write_json(requests / f"pod-{size}-accept.json", pod_review(size, ["team-a-mirror", "corp-registry"]), compact=True)
        write_json(requests / f"pod-{size}-inject.json", pod_review(size, ["team-a-mirror"]), compact=True)
    write_json(requests / "deployment-1-check.json", deployment_review(1, ["team-a-mirror"]), compact=True)
    settings = HERE / "settings"
    write_json(settings / "image-pull-secrets.json", rules_settings(False))
    write_json(settings / "image-pull-secrets-verify.json", rules_settings(True))
    write_json(settings / "trusted-repos.json", TRUSTED_REPOS_SETTINGS)
    write_json(settings / "noop.json", {})
    write_json(HERE / "corp-registry-secret.json", dockerconfig_secret("corp-registry", CORP_REGISTRIES))
    (HERE / "replay-corp-registry.yml").write_text(replay_session())


if __name__ == "__main__":
    main()
