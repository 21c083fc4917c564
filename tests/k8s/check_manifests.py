"""What the schemas cannot check in deploy/k8s/*.yaml: that the recipe fits together.

usage: check_manifests.py DEPLOY_DIR   (the repository's deploy/ folder)

- the worker Job runs `automl worker --store $(VAR)`, VAR coming from a Secret key that the
  example Secret defines, with parallelism = completions, a restart policy, and requests and
  limits for CPU and memory;
- the coordinator Job runs `automl fit ... --remote-workers` with its URL from the Secret too;
- no Job or StatefulSet spells a postgres:// URL or a password out (only the Secret does);
- the StatefulSet has a PersistentVolumeClaim template and a Service named by serviceName, and
  its init ConfigMap is deploy/postgres/roles.sql verbatim.
Prints one line per failed check and exits 1, or prints a summary.
"""

import os
import re
import sys

import yaml


URL_WITH_PASSWORD = re.compile(r"postgres(ql)?://[^/\s:@]+:[^@\s]+@")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def main():
    deploy = sys.argv[1]
    k8s = os.path.join(deploy, "k8s")
    docs = {}
    texts = {}
    for name in sorted(os.listdir(k8s)):
        if name.endswith(".yaml"):
            path = os.path.join(k8s, name)
            with open(path, encoding="utf-8") as f:
                texts[name] = f.read()
            for d in load(path):
                docs[(d["kind"], d["metadata"]["name"])] = (name, d)
    problems = []

    def need(cond, msg):
        if not cond:
            problems.append(msg)

    secret = docs.get(("Secret", "automl-store"))
    need(secret is not None, "no Secret automl-store")
    secret_keys = set(secret[1].get("stringData", {})) if secret else set()

    def container_env(c):
        return {e["name"]: e for e in c.get("env", [])}

    def store_from_secret(c, what):
        args = c.get("args", [])
        need("--store" in args, f"{what}: no --store argument")
        if "--store" not in args or args.index("--store") + 1 >= len(args):
            return
        value = args[args.index("--store") + 1]
        need(value.startswith("$(") and value.endswith(")"),
             f"{what}: --store is `{value}`, not $(VAR) from the environment")
        var = value[2:-1]
        env = container_env(c).get(var)
        ref = (env or {}).get("valueFrom", {}).get("secretKeyRef")
        need(ref is not None, f"{what}: ${var} does not come from a secretKeyRef")
        if ref:
            need(ref["name"] == "automl-store" and ref["key"] in secret_keys,
                 f"{what}: secretKeyRef {ref} is not a key of the example Secret automl-store")

    def resources(c, what):
        r = c.get("resources", {})
        for kind in ("requests", "limits"):
            need("memory" in r.get(kind, {}), f"{what}: no memory {kind}")
        need("cpu" in r.get("requests", {}), f"{what}: no cpu request")

    workers = docs.get(("Job", "automl-workers"))
    need(workers is not None, "no Job automl-workers")
    if workers:
        spec = workers[1]["spec"]
        need(spec.get("parallelism", 0) >= 1, "worker Job: no parallelism")
        need(spec.get("completions") == spec.get("parallelism"),
             "worker Job: completions differs from parallelism")
        pod = spec["template"]["spec"]
        need(pod.get("restartPolicy") in ("OnFailure", "Never"), "worker Job: no restartPolicy")
        (c,) = pod["containers"]
        need(c.get("args", [None])[0] == "worker", f"worker Job: runs {c.get('args')}, not `automl worker`")
        store_from_secret(c, "worker Job")
        resources(c, "worker Job")

    coord = docs.get(("Job", "automl-coordinator"))
    need(coord is not None, "no Job automl-coordinator")
    if coord:
        pod = coord[1]["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        args = c.get("args", [])
        need(args[:1] == ["fit"] and "--remote-workers" in args,
             f"coordinator Job: runs {args}, not `automl fit ... --remote-workers`")
        need(pod.get("restartPolicy") == "Never", "coordinator Job: a restart would start a new study")
        store_from_secret(c, "coordinator Job")
        resources(c, "coordinator Job")

    for name, text in texts.items():
        if name.startswith("secret"):
            continue
        need(not URL_WITH_PASSWORD.search(text), f"{name}: spells out a URL with a password (use the Secret)")
        need("CHANGE-ME" not in text, f"{name}: spells out a password (use the Secret)")

    sts = docs.get(("StatefulSet", "automl-postgres"))
    need(sts is not None, "no StatefulSet automl-postgres")
    if sts:
        spec = sts[1]["spec"]
        need(spec.get("volumeClaimTemplates"), "StatefulSet: no volumeClaimTemplates")
        need(("Service", spec.get("serviceName")) in docs, "StatefulSet: its serviceName is no Service")
        for c in spec["template"]["spec"]["containers"]:
            for e in c.get("env", []):
                need("value" not in e or "PASSWORD" not in e["name"],
                     f"StatefulSet: {e['name']} is spelled out, not from the Secret")
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    need(ref["key"] in secret_keys, f"StatefulSet: Secret key {ref['key']} is not in the example")
    init = docs.get(("ConfigMap", "automl-postgres-init"))
    need(init is not None, "no ConfigMap automl-postgres-init")
    if init:
        with open(os.path.join(deploy, "postgres", "roles.sql"), encoding="utf-8") as f:
            need(init[1]["data"].get("roles.sql") == f.read(),
                 "ConfigMap automl-postgres-init differs from deploy/postgres/roles.sql")

    if problems:
        print("k8s check: FAILED:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print(f"k8s check: {len(docs)} objects in {len(texts)} files fit together")


if __name__ == "__main__":
    main()
