#!/usr/bin/env python3
"""Generate crates/kwire/src/schema_gen.rs from Kubernetes `generated.proto` files.

The table lists every protobuf message reachable from the built-in kinds kubestate reads (and the
meta/runtime types around them): each field's JSON name, number, type, and whether it is repeated,
a map or inlined into its parent's JSON. See tools/proto-schema.md for where the .proto files come
from and how to regenerate; they are read from outside the repository and never copied into it.

Usage: tools/proto-schema.py PROTO_DIR [PROTO_DIR ...] [--out FILE] [--source TEXT]
"""

import argparse
import os
import re
import sys

SCALARS = {
    "string": "String",
    "bytes": "Bytes",
    "bool": "Bool",
    "int32": "Int32",
    "int64": "Int64",
    "uint32": "Uint32",
    "uint64": "Uint64",
    "double": "Double",
    "float": "Float",
}

# (apiVersion, proto package) of every group the kinds below live in.
GROUPS = {
    "v1": "api.core.v1",
    "apps/v1": "api.apps.v1",
    "batch/v1": "api.batch.v1",
    "discovery.k8s.io/v1": "api.discovery.v1",
    "autoscaling/v2": "api.autoscaling.v2",
    "policy/v1": "api.policy.v1",
    "storage.k8s.io/v1": "api.storage.v1",
    "networking.k8s.io/v1": "api.networking.v1",
    "coordination.k8s.io/v1": "api.coordination.v1",
    "certificates.k8s.io/v1": "api.certificates.v1",
    "admissionregistration.k8s.io/v1": "api.admissionregistration.v1",
    "rbac.authorization.k8s.io/v1": "api.rbac.v1",
    "apiextensions.k8s.io/v1": "apiextensions_apiserver.pkg.apis.apiextensions.v1",
}

# The built-in kinds of the wire captures (40), then the other built-in kinds kube-sim serves.
KINDS = [
    ("v1", k)
    for k in (
        "Pod Node Namespace Service Endpoints ConfigMap Secret PersistentVolumeClaim PersistentVolume "
        "ReplicationController ResourceQuota LimitRange ServiceAccount Event"
    ).split()
] + [
    ("apps/v1", k) for k in "Deployment ReplicaSet StatefulSet DaemonSet ControllerRevision".split()
] + [
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("coordination.k8s.io/v1", "Lease"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
] + [
    ("admissionregistration.k8s.io/v1", k)
    for k in (
        "MutatingWebhookConfiguration ValidatingWebhookConfiguration ValidatingAdmissionPolicy "
        "ValidatingAdmissionPolicyBinding MutatingAdmissionPolicy MutatingAdmissionPolicyBinding"
    ).split()
] + [
    ("rbac.authorization.k8s.io/v1", k) for k in "ClusterRole ClusterRoleBinding Role RoleBinding".split()
] + [("apiextensions.k8s.io/v1", "CustomResourceDefinition")]

META = "apimachinery.pkg.apis.meta.v1"
RUNTIME = "apimachinery.pkg.runtime"

# Messages wanted besides the kinds: what envelopes, watch frames and error bodies carry.
EXTRA_ROOTS = [
    f"{META}.Status",
    f"{META}.WatchEvent",
    f"{META}.ListMeta",
    f"{META}.Time",
    f"{META}.MicroTime",
    f"{META}.Duration",
    f"{RUNTIME}.Unknown",
    f"{RUNTIME}.RawExtension",
    "apimachinery.pkg.api.resource.Quantity",
    "apimachinery.pkg.util.intstr.IntOrString",
]

# Messages whose JSON form is not an object of their fields (custom MarshalJSON in Go).
FORMS = {
    f"{META}.Time": "Time",
    f"{META}.MicroTime": "MicroTime",
    f"{META}.Duration": "Duration",
    f"{META}.FieldsV1": "FieldsV1",
    "apimachinery.pkg.api.resource.Quantity": "Quantity",
    "apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    f"{RUNTIME}.RawExtension": "RawExtension",
    "api.certificates.v1.ExtraValue": "StringList",
    "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON": "RawJson",
    "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": "SchemaOrBool",
    "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": "SchemaOrArray",
    "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": "SchemaOrStringArray",
}

# Embedded Go structs tagged `json:",inline"`: their fields sit in the parent's JSON object, while
# protobuf keeps them in a nested message. generated.proto does not say so; the Go types do.
INLINE = {
    ("api.core.v1.ConfigMapEnvSource", "localObjectReference"),
    ("api.core.v1.ConfigMapKeySelector", "localObjectReference"),
    ("api.core.v1.ConfigMapProjection", "localObjectReference"),
    ("api.core.v1.ConfigMapVolumeSource", "localObjectReference"),
    ("api.core.v1.SecretEnvSource", "localObjectReference"),
    ("api.core.v1.SecretKeySelector", "localObjectReference"),
    ("api.core.v1.SecretProjection", "localObjectReference"),
    ("api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("api.core.v1.Probe", "handler"),
    ("api.core.v1.Volume", "volumeSource"),
    ("api.core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("api.networking.v1.IngressRule", "ingressRuleValue"),
    ("api.admissionregistration.v1.RuleWithOperations", "rule"),
    ("api.admissionregistration.v1.NamedRuleWithOperations", "ruleWithOperations"),
}

# Fields whose protobuf name is not their JSON name (the Go field's `protobuf:"name=..."` tag differs
# from its `json:"..."` tag).
JSON_NAMES = {
    ("api.admissionregistration.v1.MutatingWebhookConfiguration", "Webhooks"): "webhooks",
    ("api.admissionregistration.v1.ValidatingWebhookConfiguration", "Webhooks"): "webhooks",
    ("api.admissionregistration.v1.Validation", "Expression"): "expression",
    ("api.admissionregistration.v1.Variable", "Name"): "name",
    ("api.admissionregistration.v1.Variable", "Expression"): "expression",
    ("api.networking.v1.IngressClassParametersReference", "aPIGroup"): "apiGroup",
}
for _proto, _json in {
    "ref": "$ref",
    "schema": "$schema",
    "xKubernetesPreserveUnknownFields": "x-kubernetes-preserve-unknown-fields",
    "xKubernetesEmbeddedResource": "x-kubernetes-embedded-resource",
    "xKubernetesIntOrString": "x-kubernetes-int-or-string",
    "xKubernetesListMapKeys": "x-kubernetes-list-map-keys",
    "xKubernetesListType": "x-kubernetes-list-type",
    "xKubernetesMapType": "x-kubernetes-map-type",
    "xKubernetesValidations": "x-kubernetes-validations",
}.items():
    JSON_NAMES[("apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", _proto)] = _json

# Capitalised protobuf names that really are the JSON name (DaemonEndpoint's `json:"Port"`), or
# belong to a message with a custom JSON form.
CAPITALISED_OK = {("api.core.v1.DaemonEndpoint", "Port"), (f"{META}.FieldsV1", "Raw")}

# Fields of the 1.36 API that the newest stored copy of a .proto lacks (tools/proto-schema.md says
# which copy). Each is added only when the .proto read does not declare it; a .proto that declares the
# same number differently is an error. Evidence: the Kubernetes 1.35 protobuf bindings (k8s-pb 0.9.0,
# `#[prost(int64, optional, tag = ...)]`) and the v1.36 captures, whose CRD carries both fields.
APIEXT = "apiextensions_apiserver.pkg.apis.apiextensions.v1"
SUPPLEMENT = {
    f"{APIEXT}.CustomResourceDefinitionCondition": [("observedGeneration", 6, "int64", "single")],
    f"{APIEXT}.CustomResourceDefinitionStatus": [("observedGeneration", 4, "int64", "single")],
}

FIELD_RE = re.compile(
    r"^(?:(optional|repeated|required)\s+([\w.]+)|map\s*<\s*(\w+)\s*,\s*([\w.]+)\s*>)\s+(\w+)\s*=\s*(\d+)\s*;$"
)


def normalize(name):
    """Package or type name without the `k8s.io.` prefix kubernetes/api checkouts carry."""
    lead = name.startswith(".")
    name = name.lstrip(".")
    if name.startswith("k8s.io."):
        name = name[len("k8s.io.") :]
    return ("." if lead else "") + name


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def parse(path, messages):
    text = strip_comments(open(path, encoding="utf-8").read())
    m = re.search(r"^\s*package\s+([\w.]+)\s*;", text, re.M)
    if not m:
        return
    pkg = normalize(m.group(1))
    for mm in re.finditer(r"^message\s+(\w+)\s*\{(.*?)^\}", text, re.M | re.S):
        full = f"{pkg}.{mm.group(1)}"
        fields = []
        for line in mm.group(2).splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith(("message ", "enum ", "oneof ")):
                sys.exit(f"{path}: {full}: nested declarations are not supported: {line}")
            fm = FIELD_RE.match(line)
            if not fm:
                if line.startswith(("option ", "reserved ")):
                    continue
                sys.exit(f"{path}: {full}: cannot read field line: {line}")
            label, ty, key, value, name, number = fm.groups()
            if key:
                fields.append({"name": name, "number": int(number), "shape": "map", "key": key, "type": value})
            else:
                shape = "repeated" if label == "repeated" else "single"
                fields.append({"name": name, "number": int(number), "shape": shape, "type": ty})
        if full in messages:
            sys.exit(f"{path}: message {full} declared twice")
        messages[full] = {"pkg": pkg, "fields": fields, "file": path}


def resolve(messages, pkg, ty):
    """A type reference as protoc resolves it: absolute with a leading dot, else from the innermost
    enclosing package outwards."""
    if ty in SCALARS:
        return None
    ty = normalize(ty)
    if ty.startswith("."):
        cands = [ty[1:]]
    else:
        parts = pkg.split(".")
        cands = [".".join(parts[:i] + [ty]) for i in range(len(parts), -1, -1)]
    for c in cands:
        if c in messages:
            return c
    sys.exit(f"type {ty} (used in package {pkg}) is not declared in any .proto read")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", help="folders searched recursively for *.proto")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "crates/kwire/src/schema_gen.rs"))
    ap.add_argument("--source", default="", help="where the .proto files came from, written into the header")
    args = ap.parse_args()

    messages = {}
    for d in args.dirs:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                if f.endswith(".proto"):
                    parse(os.path.join(root, f), messages)

    supplemented = []
    for full, extra in SUPPLEMENT.items():
        if full not in messages:
            continue
        have = {f["number"]: f for f in messages[full]["fields"]}
        for name, number, ty, shape in extra:
            if number in have:
                if (have[number]["name"], have[number]["type"]) != (name, ty):
                    sys.exit(f"{full}: supplement {name}={number} conflicts with the .proto's {have[number]['name']}")
                continue
            messages[full]["fields"].append({"name": name, "number": number, "shape": shape, "type": ty})
            supplemented.append(f"{full}.{name} = {number}")

    roots = []
    for api_version, kind in KINDS:
        pkg = GROUPS[api_version]
        for name in (kind, kind + "List"):
            full = f"{pkg}.{name}"
            if full not in messages:
                sys.exit(f"{api_version} {name}: message {full} is not declared in any .proto read")
            roots.append(full)
    roots += EXTRA_ROOTS

    reach, stack = set(), list(roots)
    while stack:
        n = stack.pop()
        if n in reach:
            continue
        if n not in messages:
            sys.exit(f"message {n} is not declared in any .proto read")
        reach.add(n)
        for f in messages[n]["fields"]:
            t = resolve(messages, messages[n]["pkg"], f["type"])
            if t:
                f["resolved"] = t
                stack.append(t)

    names = sorted(reach)
    ids = {n: i for i, n in enumerate(names)}
    used_inline, used_json = set(), set()

    def kind_of(f, ty, resolved):
        if ty in SCALARS:
            return SCALARS[ty]
        return f"Message({ids[resolved]})"

    out = []
    out.append("// @generated by tools/proto-schema.py from Kubernetes generated.proto files; do not edit.")
    if args.source:
        out.append(f"// Source: {args.source}")
    out.append(f"// {len(names)} messages, {sum(len(messages[n]['fields']) for n in names)} fields.")
    for sup in supplemented:
        out.append(f"// Not in the .proto read, supplemented (see SUPPLEMENT in the generator): {sup}")
    out.append("")
    out.append("use crate::schema_def::{Form, Kind::*, MessageDef, Shape::*, f, i};")
    out.append("")
    out.append("pub(crate) static MESSAGES: &[MessageDef] = &[")
    for n in names:
        msg = messages[n]
        form = FORMS.get(n, "Object")
        out.append(f"    // {ids[n]}")
        out.append(f'    MessageDef {{ name: "{n}", form: Form::{form}, fields: &[')
        for fl in sorted(msg["fields"], key=lambda x: x["number"]):
            key = (n, fl["name"])
            json = JSON_NAMES.get(key, fl["name"])
            if key in JSON_NAMES:
                used_json.add(key)
            if json[:1].isupper() and key not in CAPITALISED_OK:
                sys.exit(f"{n}.{fl['name']}: capitalised protobuf name with no known JSON name")
            kind = kind_of(fl, fl["type"], fl.get("resolved"))
            if fl["shape"] == "map":
                shape = f"Map({SCALARS[fl['key']]})"
            else:
                shape = "Repeated" if fl["shape"] == "repeated" else "Single"
            ctor = "i" if key in INLINE else "f"
            if key in INLINE:
                used_inline.add(key)
            out.append(f'        {ctor}("{json}", {fl["number"]}, {kind}, {shape}),')
        out.append("    ]},")
    out.append("];")
    out.append("")
    out.append("/// (apiVersion, kind, message) of every kind and list kind the table holds.")
    out.append("pub(crate) static KINDS: &[(&str, &str, u16)] = &[")
    for api_version, kind in KINDS:
        for name in (kind, kind + "List"):
            out.append(f'    ("{api_version}", "{name}", {ids[GROUPS[api_version] + "." + name]}),')
    out.append(f'    ("v1", "Status", {ids[META + ".Status"]}),')
    out.append("];")

    stale = (INLINE - used_inline) | (set(JSON_NAMES) - used_json)
    if stale:
        sys.exit(f"declared but not found in the reachable messages: {sorted(stale)}")
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")
    print(f"{args.out}: {len(names)} messages, {sum(len(messages[n]['fields']) for n in names)} fields")


if __name__ == "__main__":
    main()
