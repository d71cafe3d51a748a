//! Loading and validating custom resource state configs: accepted shapes, and each bad config with
//! its exact error message.

use serde_json::json;
use state_metrics::custom::{ConfigError, Gvkp, compile, load, load_and_compile, resolve_all};

fn err(yaml: &str) -> String {
    match load_and_compile(yaml) {
        Ok(r) => panic!("accepted: {} resources", r.len()),
        Err(e) => e.to_string(),
    }
}

/// A one-resource config whose single metric's `each` is given as YAML flow text.
fn with_each(each: &str) -> String {
    format!(
        "kind: CustomResourceStateMetrics
spec:
  resources:
    - groupVersionKind: {{group: ex.dev, version: v1, kind: W}}
      metrics:
        - name: m
          help: h
          each: {each}
"
    )
}

const AT: &str = "custom resource state config: spec.resources[0] (ex.dev/v1 W).metrics[0] \"m\"";

#[test]
fn full_schema_loads() {
    let yaml = r#"
kind: CustomResourceStateMetrics
spec:
  resources:
    - groupVersionKind:
        group: example.dev
        version: v1alpha1
        kind: Widget
      resourcePlural: widgetz
      metricNamePrefix: widget
      commonLabels: {team: storage}
      labelsFromPath:
        name: [metadata, name]
        "label_*": [metadata, labels]
      errorLogV: 3
      metrics:
        - name: replicas
          help: Replicas
          errorLogV: 5
          commonLabels: {a: b}
          labelsFromPath: {ns: [metadata, namespace]}
          each:
            type: Gauge
            gauge:
              path: [status, items, -1, "[type=Ready]", "phase=Up"]
              labelsFromPath: {x: [y]}
              labelFromKey: key
              valueFrom: [count]
              nilIsZero: true
        - name: phase
          help: Phase
          each:
            type: StateSet
            stateSet: {path: [status, phase], labelName: phase, valueFrom: [v], list: [A, B]}
        - name: info
          help: Info
          each:
            type: Info
            info: {path: [spec], labelsFromPath: {v: [version]}, labelFromKey: k}
"#;
    let cfg = load(yaml).unwrap();
    assert_eq!(cfg.kind.as_deref(), Some("CustomResourceStateMetrics"));
    let r = &cfg.spec.resources[0];
    assert_eq!(r.metric_name_prefix.as_deref(), Some("widget"));
    assert_eq!(r.error_log_v, 3);
    assert_eq!(r.metrics[0].error_log_v, 5);
    let g = r.metrics[0].each.as_ref().unwrap().gauge.as_ref().unwrap();
    assert_eq!(
        g.path.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["status", "items", "-1", "[type=Ready]", "phase=Up"]
    );
    assert!(g.nil_is_zero);
    assert_eq!(g.label_from_key, "key");
    let s = r.metrics[1].each.as_ref().unwrap().state_set.as_ref().unwrap();
    assert_eq!(s.list, ["A", "B"]);
    assert_eq!(s.label_name, "phase");
    let res = compile(&cfg).unwrap();
    assert_eq!(res[0].family_names(), ["widget_replicas", "widget_phase", "widget_info"]);
    assert_eq!(
        res[0].gvk(),
        &Gvkp {
            group: "example.dev".into(),
            version: "v1alpha1".into(),
            kind: "Widget".into(),
            plural: "widgetz".into()
        }
    );
}

#[test]
fn empty_documents_have_no_resources() {
    assert!(load_and_compile("").unwrap().is_empty());
    assert!(load_and_compile("kind: CustomResourceStateMetrics\nspec: {}\n").unwrap().is_empty());
}

#[test]
fn default_plurals() {
    use state_metrics::custom::default_plural;
    assert_eq!(default_plural("Widget"), "widgets");
    assert_eq!(default_plural("Policy"), "policies");
    assert_eq!(default_plural("Gateway"), "gateways");
    assert_eq!(default_plural("Ingress"), "ingresses");
    assert_eq!(default_plural("Box"), "boxes");
    assert_eq!(default_plural("Patch"), "patches");
}

#[test]
fn type_is_case_insensitive() {
    for t in ["gauge", "GAUGE", "Gauge"] {
        assert!(load_and_compile(&with_each(&format!("{{type: {t}, gauge: {{path: [a]}}}}"))).is_ok(), "{t}");
    }
    assert!(load_and_compile(&with_each("{type: stateSet, stateSet: {path: [a], labelName: s}}")).is_ok());
    assert!(load_and_compile(&with_each("{type: info, info: {path: [a]}}")).is_ok());
}

#[test]
fn unknown_type() {
    assert_eq!(
        err(&with_each("{type: Histogram, gauge: {path: [a]}}")),
        format!("{AT}.each.type: unknown type \"Histogram\", expected Gauge, StateSet or Info")
    );
    assert_eq!(
        err(&with_each("{gauge: {path: [a]}}")),
        format!("{AT}.each.type: is required (Gauge, StateSet or Info)")
    );
}

#[test]
fn missing_type_blocks() {
    assert_eq!(err(&with_each("{type: Gauge}")), format!("{AT}.each.gauge: is required for type Gauge"));
    assert_eq!(
        err(&with_each("{type: StateSet, gauge: {path: [a]}}")),
        format!("{AT}.each.stateSet: is required for type StateSet")
    );
    assert_eq!(err(&with_each("{type: Info}")), format!("{AT}.each.info: is required for type Info"));
    assert_eq!(
        err(&with_each("{type: StateSet, stateSet: {path: [a], list: [x]}}")),
        format!("{AT}.each.stateSet.labelName: is required")
    );
}

#[test]
fn bad_path_syntax() {
    assert_eq!(
        err(&with_each("{type: Gauge, gauge: {path: [status, \"[type]\"]}}")),
        format!("{AT}.each.gauge.path: path segment \"[type]\": invalid list lookup, expected [key=value]")
    );
    assert_eq!(
        err(&with_each("{type: Gauge, gauge: {path: [status, \"[type=Ready\"]}}")),
        format!(
            "{AT}.each.gauge.path: path segment \"[type=Ready\": unbalanced brackets (a list lookup is written [key=value])"
        )
    );
    assert_eq!(
        err(&with_each("{type: Gauge, gauge: {path: [a], valueFrom: [\"[=x]\"]}}")),
        format!("{AT}.each.gauge.valueFrom: path segment \"[=x]\": invalid list lookup, empty key")
    );
    assert_eq!(
        err(&with_each("{type: StateSet, stateSet: {path: [a], labelName: s, labelsFromPath: {t: [\"x]\"]}}}")),
        format!(
            "{AT}.each.stateSet.labelsFromPath.t: path segment \"x]\": unbalanced brackets (a list lookup is written [key=value])"
        )
    );
}

#[test]
fn bad_label_paths_name_their_level() {
    let yaml = "spec:
  resources:
    - groupVersionKind: {group: ex.dev, version: v1, kind: W}
      labelsFromPath: {owner: [\"[name]\"]}
      metrics: []
";
    assert_eq!(
        err(yaml),
        "custom resource state config: spec.resources[0] (ex.dev/v1 W).labelsFromPath.owner: path segment \"[name]\": invalid list lookup, expected [key=value]"
    );
    let yaml = "spec:
  resources:
    - groupVersionKind: {group: ex.dev, version: v1, kind: W}
      metrics:
        - name: m
          labelsFromPath: {owner: [\"[name\"]}
          each: {type: Gauge, gauge: {path: [a]}}
";
    assert_eq!(
        err(yaml),
        format!(
            "{AT}.labelsFromPath.owner: path segment \"[name\": unbalanced brackets (a list lookup is written [key=value])"
        )
    );
}

#[test]
fn label_names_sanitising_cannot_fix_are_refused() {
    let yaml = "spec:
  resources:
    - groupVersionKind: {group: ex.dev, version: v1, kind: W}
      labelsFromPath: {1name: [metadata, name]}
      metrics: []
";
    assert_eq!(
        err(yaml),
        "custom resource state config: spec.resources[0] (ex.dev/v1 W).labelsFromPath.1name: \"1name\" is not a valid label name (sanitised: \"1name\"): it must start with a letter or underscore"
    );
    let bad = "is not a valid label name";
    assert!(err(&with_each("{type: Gauge, gauge: {path: [a], labelsFromPath: {'': [b]}}}")).contains(bad));
    assert!(err(&with_each("{type: Gauge, gauge: {path: [a], labelFromKey: 7k}}")).contains(bad));
    assert!(err(&with_each("{type: StateSet, stateSet: {path: [a], labelName: 2x, list: [A]}}")).contains(bad));
    let e = err(&with_each("{type: Gauge, gauge: {path: [a], labelsFromPath: {'9*': [b]}}}"));
    assert!(e.starts_with(&format!("{AT}.each.gauge.labelsFromPath.9*: ")), "{e}");
    // Sanitising alone is enough for these: accepted.
    let ok = with_each("{type: Gauge, gauge: {path: [a], labelFromKey: my-key, labelsFromPath: {a.b: [c], '*': [d]}}}");
    assert!(load_and_compile(&ok).is_ok());
}

#[test]
fn missing_required_fields() {
    let yaml = "spec:\n  resources:\n    - groupVersionKind: {group: ex.dev, version: v1}\n";
    assert_eq!(err(yaml), "custom resource state config: spec.resources[0].groupVersionKind.kind: is required");
    let yaml = "spec:\n  resources:\n    - {metrics: []}\n";
    assert_eq!(err(yaml), "custom resource state config: spec.resources[0].groupVersionKind.group: is required");
    let yaml = "spec:\n  resources:\n    - groupVersionKind: {group: \"*\", version: v1, kind: W}\n";
    assert_eq!(
        err(yaml),
        "custom resource state config: spec.resources[0].groupVersionKind.group: must name one API group (only version and kind may be \"*\")"
    );
    let yaml = "spec:
  resources:
    - groupVersionKind: {group: ex.dev, version: v1, kind: W}
    - groupVersionKind: {group: ex.dev, version: \"*\", kind: W}
      metrics:
        - help: no name
          each: {type: Gauge, gauge: {path: [a]}}
";
    assert_eq!(err(yaml), "custom resource state config: spec.resources[1] (ex.dev/* W).metrics[0].name: is required");
    assert_eq!(err(&with_each("null")).as_str(), format!("{AT}.each: is required"));
}

#[test]
fn invalid_family_names() {
    let yaml = "spec:
  resources:
    - groupVersionKind: {group: ex.dev, version: v1, kind: W}
      metricNamePrefix: \"\"
      metrics:
        - name: 9lives
          each: {type: Gauge, gauge: {path: [a]}}
";
    assert_eq!(
        err(yaml),
        "custom resource state config: spec.resources[0] (ex.dev/v1 W).metrics[0] \"9lives\".name: \"9lives\" is not a valid metric name"
    );
    let yaml = yaml.replace("9lives", "my-metric").replace("\"\"", "w");
    assert_eq!(
        err(&yaml),
        "custom resource state config: spec.resources[0] (ex.dev/v1 W).metrics[0] \"my-metric\".name: \"w_my-metric\" is not a valid metric name"
    );
}

#[test]
fn wrong_yaml_types_report_the_line() {
    for (yaml, line) in [
        ("spec:\n  resources:\n    - groupVersionKind: {group: ex.dev, version: v1, kind: W}\n      metrics: 5\n", 4),
        (
            "spec:\n  resources:\n    - groupVersionKind: {group: ex.dev, version: v1, kind: W}\n      metrics:\n        - name: m\n          each: {type: Gauge, gauge: {path: [a], nilIsZero: maybe}}\n",
            6,
        ),
        ("spec:\n  resources:\n    - groupVersionKind: [ex.dev, v1, W]\n", 3),
        ("spec:\n  resources: {a: 1}\n", 2),
        ("spec:\n  resources:\n    - errorLogV: high\n", 3),
    ] {
        let e = load(yaml).unwrap_err();
        let ConfigError::Yaml(msg) = &e else { panic!("{e:?}") };
        assert!(msg.contains(&format!("line {line}")), "{yaml}\n=> {msg}");
    }
    // Not YAML at all.
    assert!(matches!(load("spec: [unclosed\n"), Err(ConfigError::Yaml(_))));
}

#[test]
fn resolve_against_crds() {
    let crd = |group: &str, kind: &str, plural: &str, versions: serde_json::Value| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "spec": {"group": group, "names": {"kind": kind, "plural": plural}, "versions": versions}})
    };
    let crds = [
        crd(
            "ex.dev",
            "Widget",
            "widgets",
            json!([{"name": "v1", "served": true}, {"name": "v2", "served": true}, {"name": "v0", "served": false}]),
        ),
        crd("ex.dev", "Gadget", "gadgetries", json!([{"name": "v1", "served": true}])),
        crd("other.dev", "Widget", "widgets", json!([{"name": "v1", "served": true}])),
    ];
    let g = |v: &str, k: &str, p: &str| Gvkp {
        group: "ex.dev".into(),
        version: v.into(),
        kind: k.into(),
        plural: p.into(),
    };
    let cfg = |v: &str, k: &str| {
        format!("spec:\n  resources:\n    - groupVersionKind: {{group: ex.dev, version: \"{v}\", kind: \"{k}\"}}\n")
    };
    let resolve = |v: &str, k: &str| load_and_compile(&cfg(v, k)).unwrap()[0].resolve(&crds);
    assert_eq!(resolve("*", "Widget"), [g("v1", "Widget", "widgets"), g("v2", "Widget", "widgets")]);
    assert_eq!(resolve("v1", "*"), [g("v1", "Gadget", "gadgetries"), g("v1", "Widget", "widgets")]);
    assert_eq!(resolve("*", "*").len(), 3);
    // The plural comes from the CRD, not the config's default.
    assert_eq!(resolve("v1", "Gadget"), [g("v1", "Gadget", "gadgetries")]);
    // Not served, or no such CRD: nothing.
    assert!(resolve("v0", "Widget").is_empty());
    assert!(resolve("v1", "Doohickey").is_empty());
    let res = load_and_compile(&cfg("*", "Widget")).unwrap();
    assert!(res[0].is_wildcard());
    let bound = resolve_all(&res, &crds);
    assert_eq!(bound.iter().map(|r| r.gvk().version.as_str()).collect::<Vec<_>>(), ["v1", "v2"]);
    assert!(!bound[0].is_wildcard());
}

#[test]
fn bound_resources_label_with_the_concrete_version() {
    let yaml = "spec:
  resources:
    - groupVersionKind: {group: ex.dev, version: \"*\", kind: Widget}
      metricNamePrefix: w
      metrics:
        - name: n
          each: {type: Gauge, gauge: {path: [spec, n]}}
";
    let crd = json!({"spec": {"group": "ex.dev", "names": {"kind": "Widget", "plural": "widgets"},
                     "versions": [{"name": "v1beta1", "served": true}]}});
    let bound = resolve_all(&load_and_compile(yaml).unwrap(), &[crd]);
    assert_eq!(bound[0].resource_name(), "ex.dev/v1beta1, Resource=widgets");
    let mut header = Vec::new();
    bound[0].write_header(0, &mut header, false);
    bound[0].write_header(1, &mut header, false);
    assert_eq!(String::from_utf8(header).unwrap(), "# HELP w_n \n# TYPE w_n gauge\n");
    let out = bound[0].render(&json!({"spec": {"n": 4}}));
    assert_eq!(
        String::from_utf8(out.buf).unwrap(),
        "w_n{customresource_group=\"ex.dev\",customresource_kind=\"Widget\",customresource_version=\"v1beta1\"} 4\n"
    );
}

#[test]
fn yaml_words_in_paths_stay_strings() {
    let cfg = load(&with_each("{type: Gauge, gauge: {path: [on, yes, n, off, 0, -1, 1.5]}}")).unwrap();
    let g = cfg.spec.resources[0].metrics[0].each.as_ref().unwrap().gauge.as_ref().unwrap();
    assert_eq!(g.path.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["on", "yes", "n", "off", "0", "-1", "1.5"]);
    // A null segment is not a key; the error points at it.
    let e = load(&with_each("{type: Gauge, gauge: {path: [a, null]}}")).unwrap_err().to_string();
    assert!(e.contains("line 8 column 49: cannot deserialize null into string"), "{e}");
}
