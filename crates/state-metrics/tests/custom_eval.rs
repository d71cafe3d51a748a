//! Evaluation of custom resource state metrics: value conversion, path segments, labels, the three
//! metric types, prefixes. Golden text, exact.

use serde_json::{Value, json};
use state_metrics::custom::{load_and_compile, to_f64};

const L: &str = r#"customresource_group="ex.dev",customresource_kind="W",customresource_version="v1""#;

/// Samples (no headers) of every family of one resource; `resource` is everything but the GVK.
/// JSON is valid YAML, which keeps the configs here free of indentation noise.
fn run(mut resource: Value, obj: &Value) -> String {
    resource["groupVersionKind"] = json!({"group": "ex.dev", "version": "v1", "kind": "W"});
    let cfg = json!({"kind": "CustomResourceStateMetrics", "spec": {"resources": [resource]}});
    let res = load_and_compile(&cfg.to_string()).unwrap();
    let mut out = Vec::new();
    for r in &res {
        out.extend_from_slice(&r.render(obj).buf);
    }
    String::from_utf8(out).unwrap()
}

fn one(each: Value, obj: Value) -> String {
    run(json!({"metricNamePrefix": "", "metrics": [{"name": "m", "help": "h", "each": each}]}), &obj)
}

fn gauge(g: Value, obj: Value) -> String {
    one(json!({"type": "Gauge", "gauge": g}), obj)
}

/// The value printed for `{"v": v}` through a gauge on path `[v]`, or None when skipped.
fn value_of(v: Value) -> Option<String> {
    let out = gauge(json!({"path": ["v"]}), json!({"v": v}));
    if out.is_empty() {
        return None;
    }
    let prefix = format!("m{{{L}}} ");
    Some(out.strip_prefix(&prefix).and_then(|s| s.strip_suffix('\n')).unwrap_or_else(|| panic!("{out}")).to_owned())
}

#[test]
fn value_conversion_bools_and_numbers() {
    assert_eq!(value_of(json!(true)).as_deref(), Some("1"));
    assert_eq!(value_of(json!(false)).as_deref(), Some("0"));
    assert_eq!(value_of(json!(3)).as_deref(), Some("3"));
    assert_eq!(value_of(json!(-2.5)).as_deref(), Some("-2.5"));
    assert_eq!(value_of(json!(1234567)).as_deref(), Some("1.234567e+06"));
}

#[test]
fn value_conversion_boolean_words_case_insensitive() {
    for (s, want) in [("true", "1"), ("YES", "1"), ("Yes", "1"), ("False", "0"), ("no", "0"), ("Unknown", "0")] {
        assert_eq!(value_of(json!(s)).as_deref(), Some(want), "{s}");
    }
}

#[test]
fn value_conversion_rfc3339_timestamps() {
    assert_eq!(value_of(json!("2017-08-03T16:16:58Z")).as_deref(), Some("1.501777018e+09"));
    // Offsets and fractions: Unix seconds of the instant, fraction truncated.
    assert_eq!(value_of(json!("2017-08-03T18:16:58.9+02:00")).as_deref(), Some("1.501777018e+09"));
    // What Go's RFC3339 layout refuses (RFC 3339 itself allows a lower-case `t`/`z` and a space) is no time.
    for s in ["2017-08-03T16:16:58z", "2016-12-31T23:59:60Z", "2017-08-03t16:16:58z", "2017-08-03 16:16:58Z"] {
        assert_eq!(value_of(json!(s)), None, "{s}");
    }
}

#[test]
fn value_conversion_quantities() {
    assert_eq!(value_of(json!("250m")).as_deref(), Some("0.25"));
    assert_eq!(value_of(json!("1G")).as_deref(), Some("1e+09"));
    assert_eq!(value_of(json!("1Gi")).as_deref(), Some("1.073741824e+09"));
    assert_eq!(value_of(json!("1")).as_deref(), Some("1"));
    assert_eq!(value_of(json!("1.5")).as_deref(), Some("1.5"));
    assert_eq!(value_of(json!("2e3")).as_deref(), Some("2000"));
}

#[test]
fn value_conversion_percentages_and_floats() {
    assert_eq!(value_of(json!("55%")).as_deref(), Some("0.55"));
    assert_eq!(value_of(json!("100%")).as_deref(), Some("1"));
    assert_eq!(value_of(json!("NaN")).as_deref(), Some("NaN"));
    assert_eq!(value_of(json!("-Inf")).as_deref(), Some("-Inf"));
}

#[test]
fn value_conversion_percentages_are_integers_only() {
    // apimachinery's IsValidPercent (`[0-9]+%`) gates the percentage branch upstream; everything else
    // reaches the float parse, which refuses the `%`: no sample.
    assert_eq!(value_of(json!("150%")).as_deref(), Some("1.5"));
    assert_eq!(value_of(json!("007%")).as_deref(), Some("0.07"));
    for odd in ["150.5%", "-5%", "+5%", "%", "5%%", " 5%", "1e2%"] {
        assert_eq!(value_of(json!(odd)), None, "{odd}");
    }
    assert_eq!(
        to_f64(Some(&json!("150.5%")), false),
        Err("strconv.ParseFloat: parsing \"150.5%\": invalid syntax".to_owned())
    );
}

#[test]
fn label_of_an_integer_beyond_int64_prints_as_the_float_it_decodes_to() {
    // Kubernetes decodes an integer that does not fit an int64 as a float64; `%v` then prints it in
    // exponent form. Integers within the int64 range keep all their digits.
    let obj: Value = serde_json::from_str(
        r#"{"spec": {"big": 12345678901234567890, "max": 9223372036854775807, "neg": -9223372036854775809}}"#,
    )
    .unwrap();
    let each = json!({"type": "Info", "info": {"labelsFromPath": {"big": ["spec", "big"], "max": ["spec", "max"], "neg": ["spec", "neg"]}}});
    assert_eq!(
        one(each, obj),
        format!(
            "m{{big=\"1.2345678901234567e+19\",{L},max=\"9223372036854775807\",neg=\"-9.223372036854776e+18\"}} 1\n"
        )
    );
}

#[test]
fn value_conversion_errors_skip_the_sample() {
    assert_eq!(value_of(json!("Running")), None);
    assert_eq!(value_of(json!("x%")), None);
    assert_eq!(value_of(json!({"a": {"b": 1}})), None);
    assert_eq!(value_of(Value::Null), None);
    assert_eq!(
        to_f64(Some(&json!("Running")), false),
        Err("strconv.ParseFloat: parsing \"Running\": invalid syntax".to_owned())
    );
    assert_eq!(to_f64(None, false), Err("expected number but found nil value".to_owned()));
    assert_eq!(to_f64(Some(&json!([1, "a"])), false), Err("expected number but was [1 a]".to_owned()));
}

#[test]
fn nil_is_zero() {
    let obj = json!({"status": {}});
    assert_eq!(gauge(json!({"path": ["status", "ready"]}), obj.clone()), "");
    assert_eq!(gauge(json!({"path": ["status", "ready"], "nilIsZero": true}), obj.clone()), format!("m{{{L}}} 0\n"));
    // An explicit null is nil too.
    let obj = json!({"status": {"ready": null}});
    assert_eq!(gauge(json!({"path": ["status", "ready"], "nilIsZero": true}), obj), format!("m{{{L}}} 0\n"));
}

#[test]
fn path_map_keys_and_array_indexes() {
    let obj = json!({"spec": {"items": [{"v": 1}, {"v": 2}, {"v": 3}]}});
    assert_eq!(gauge(json!({"path": ["spec", "items", "0", "v"]}), obj.clone()), format!("m{{{L}}} 1\n"));
    // Integer segments in YAML are accepted as indexes.
    assert_eq!(gauge(json!({"path": ["spec", "items", 1, "v"]}), obj.clone()), format!("m{{{L}}} 2\n"));
    assert_eq!(gauge(json!({"path": ["spec", "items", "-1", "v"]}), obj.clone()), format!("m{{{L}}} 3\n"));
    assert_eq!(gauge(json!({"path": ["spec", "items", "-3", "v"]}), obj.clone()), format!("m{{{L}}} 1\n"));
    // Out of range either way, a non-numeric index and a missing key are nil.
    assert_eq!(gauge(json!({"path": ["spec", "items", "3", "v"]}), obj.clone()), "");
    assert_eq!(gauge(json!({"path": ["spec", "items", "-4", "v"]}), obj.clone()), "");
    assert_eq!(gauge(json!({"path": ["spec", "items", "x", "v"]}), obj.clone()), "");
    assert_eq!(gauge(json!({"path": ["spec", "nope"]}), obj.clone()), "");
    assert_eq!(gauge(json!({"path": ["spec", "items", "0", "v", "deeper"]}), obj), "");
}

#[test]
fn path_list_selection() {
    let obj = json!({"status": {"conditions": [
        {"type": "Ready", "status": "True", "gen": 3, "ok": true},
        {"type": "Synced", "status": "False", "gen": 7, "ok": false},
        {"type": "Synced", "status": "True", "gen": 9, "ok": false}
    ]}});
    // String compare; the first match wins.
    assert_eq!(
        gauge(json!({"path": ["status", "conditions", "[type=Synced]", "status"]}), obj.clone()),
        format!("m{{{L}}} 0\n")
    );
    // Numeric compare against a JSON number.
    assert_eq!(
        gauge(json!({"path": ["status", "conditions", "[gen=7.0]", "gen"]}), obj.clone()),
        format!("m{{{L}}} 7\n")
    );
    // Boolean compare.
    assert_eq!(
        gauge(json!({"path": ["status", "conditions", "[ok=true]", "gen"]}), obj.clone()),
        format!("m{{{L}}} 3\n")
    );
    // Booleans also compare as 1/0.
    assert_eq!(gauge(json!({"path": ["status", "conditions", "[ok=0]", "gen"]}), obj.clone()), format!("m{{{L}}} 7\n"));
    // No match, or not a list: nil.
    assert_eq!(gauge(json!({"path": ["status", "conditions", "[type=Gone]", "gen"]}), obj.clone()), "");
    assert_eq!(gauge(json!({"path": ["status", "[type=Ready]", "gen"]}), obj), "");
}

#[test]
fn path_key_value_filter() {
    let obj = json!({"spec": {"mode": "yes"}});
    assert_eq!(gauge(json!({"path": ["spec", "mode=yes"]}), obj.clone()), format!("m{{{L}}} 1\n"));
    assert_eq!(gauge(json!({"path": ["spec", "mode=no"]}), obj.clone()), "");
    assert_eq!(gauge(json!({"path": ["spec", "other=yes"]}), obj), "");
}

#[test]
fn gauge_over_map_entries_with_label_from_key() {
    let obj = json!({"spec": {"resources": {"memory": "1Gi", "cpu": "500m"}}});
    assert_eq!(
        gauge(json!({"path": ["spec", "resources"], "labelFromKey": "resource"}), obj),
        format!("m{{{L},resource=\"cpu\"}} 0.5\nm{{{L},resource=\"memory\"}} 1.073741824e+09\n")
    );
    let obj = json!({"status": {"sub": {"type-b": {"ready": 3, "zone": "z2"}, "type-a": {"ready": 2, "zone": "z1"}}}});
    assert_eq!(
        gauge(
            json!({"path": ["status", "sub"], "labelFromKey": "type", "valueFrom": ["ready"], "labelsFromPath": {"zone": ["zone"]}}),
            obj
        ),
        format!("m{{{L},type=\"type-a\",zone=\"z1\"}} 2\nm{{{L},type=\"type-b\",zone=\"z2\"}} 3\n")
    );
}

#[test]
fn gauge_value_from_on_an_object_is_one_sample() {
    let obj = json!({"status": {"readyReplicas": 3, "replicas": 5, "selector": {"app": "x"}}});
    assert_eq!(gauge(json!({"path": ["status"], "valueFrom": ["readyReplicas"]}), obj), format!("m{{{L}}} 3\n"));
    let obj = json!({"status": {"replicas": 5}});
    assert_eq!(
        gauge(json!({"path": ["status"], "valueFrom": ["readyReplicas"], "nilIsZero": true}), obj),
        format!("m{{{L}}} 0\n")
    );
}

#[test]
fn gauge_over_array_elements() {
    let obj = json!({"status": {"conditions": [
        {"type": "Ready", "status": "True"},
        {"type": "Degraded", "status": "Unknown"},
        {"type": "Broken", "status": "maybe"}
    ]}});
    assert_eq!(
        gauge(
            json!({"path": ["status", "conditions"], "valueFrom": ["status"], "labelsFromPath": {"type": ["type"]}}),
            obj
        ),
        format!("m{{{L},type=\"Degraded\"}} 0\nm{{{L},type=\"Ready\"}} 1\n")
    );
    // A scalar list element used as its own label with an empty path.
    let obj = json!({"spec": {"ports": [8080, 443]}});
    assert_eq!(
        gauge(json!({"path": ["spec", "ports"], "labelsFromPath": {"port": []}}), obj),
        format!("m{{{L},port=\"443\"}} 443\nm{{{L},port=\"8080\"}} 8080\n")
    );
}

#[test]
fn stateset_single_value() {
    let each = json!({"type": "StateSet", "stateSet": {"path": ["status", "phase"], "labelName": "phase", "list": ["Pending", "Active", "Failed"]}});
    assert_eq!(
        one(each.clone(), json!({"status": {"phase": "Active"}})),
        format!("m{{{L},phase=\"Active\"}} 1\nm{{{L},phase=\"Failed\"}} 0\nm{{{L},phase=\"Pending\"}} 0\n")
    );
    // Unresolved: nothing; not a string: nothing (logged).
    assert_eq!(one(each.clone(), json!({"status": {}})), "");
    assert_eq!(one(each, json!({"status": {"phase": 3}})), "");
}

#[test]
fn stateset_per_array_element() {
    let each = json!({"type": "stateset", "stateSet": {
        "path": ["status", "conditions"], "valueFrom": ["status"], "labelName": "status",
        "labelsFromPath": {"type": ["type"]}, "list": ["True", "False"]
    }});
    let obj =
        json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}});
    assert_eq!(
        one(each, obj),
        format!(
            "m{{{L},status=\"False\",type=\"Ready\"}} 0\nm{{{L},status=\"False\",type=\"Synced\"}} 1\n\
             m{{{L},status=\"True\",type=\"Ready\"}} 1\nm{{{L},status=\"True\",type=\"Synced\"}} 0\n"
        )
    );
}

#[test]
fn info_with_labels_from_path_and_label_from_key() {
    let obj = json!({"spec": {"version": "1.2", "features": {"beta": false, "alpha": true}}});
    let each = json!({"type": "Info", "info": {"labelsFromPath": {"version": ["spec", "version"]}}});
    assert_eq!(one(each, obj.clone()), format!("m{{{L},version=\"1.2\"}} 1\n"));
    let each = json!({"type": "INFO", "info": {"path": ["spec", "features"], "labelFromKey": "feature"}});
    assert_eq!(one(each, obj.clone()), format!("m{{{L},feature=\"alpha\"}} 1\nm{{{L},feature=\"beta\"}} 1\n"));
    // Keys plus the map's own sample when it has labels of its own.
    let each = json!({"type": "Info", "info": {"path": ["spec", "features"], "labelFromKey": "feature", "labelsFromPath": {"a": ["alpha"]}}});
    assert_eq!(
        one(each, obj),
        format!("m{{a=\"true\",{L}}} 1\nm{{{L},feature=\"alpha\"}} 1\nm{{{L},feature=\"beta\"}} 1\n")
    );
}

#[test]
fn info_over_array_and_without_labels() {
    let obj = json!({"metadata": {"name": "w1"}, "spec": {"owners": [{"name": "ann"}, {"name": "bo"}, {"team": "x"}]}});
    let each = json!({"type": "Info", "info": {"path": ["spec", "owners"], "labelsFromPath": {"owner": ["name"]}}});
    assert_eq!(one(each, obj.clone()), format!("m{{{L},owner=\"ann\"}} 1\nm{{{L},owner=\"bo\"}} 1\n"));
    // Resource-level labels alone do not make an info sample.
    let r = json!({"metricNamePrefix": "", "labelsFromPath": {"name": ["metadata", "name"]},
        "metrics": [{"name": "m", "help": "h", "each": {"type": "Info", "info": {"path": ["spec"]}}}]});
    assert_eq!(run(r, &obj), "");
}

#[test]
fn metric_name_prefix_three_cases() {
    let metrics = json!([{"name": "m", "help": "h", "each": {"type": "Gauge", "gauge": {"path": ["v"]}}}]);
    let obj = json!({"v": 1});
    assert_eq!(run(json!({"metrics": metrics}), &obj), format!("kube_customresource_m{{{L}}} 1\n"));
    assert_eq!(
        run(json!({"metricNamePrefix": null, "metrics": metrics}), &obj),
        format!("kube_customresource_m{{{L}}} 1\n")
    );
    assert_eq!(run(json!({"metricNamePrefix": "", "metrics": metrics}), &obj), format!("m{{{L}}} 1\n"));
    assert_eq!(run(json!({"metricNamePrefix": "widget", "metrics": metrics}), &obj), format!("widget_m{{{L}}} 1\n"));
}

#[test]
fn common_labels_merge_and_reserved_labels_win() {
    let r = json!({
        "metricNamePrefix": "",
        "commonLabels": {"team": "storage", "tier": "gold", "customresource_kind": "Fake"},
        "labelsFromPath": {"name": ["metadata", "name"], "zone": ["metadata", "labels", "zone"]},
        "metrics": [{
            "name": "m", "help": "h",
            "commonLabels": {"tier": "silver"},
            "labelsFromPath": {"zone": ["spec", "zone"]},
            "each": {"type": "Gauge", "gauge": {"path": ["spec", "n"], "valueFrom": ["v"], "labelsFromPath": {"name": ["alias"]}}}
        }]
    });
    let obj = json!({"metadata": {"name": "w1", "labels": {"zone": "a"}}, "spec": {"zone": "b", "n": [{"alias": "w-one", "v": 1}]}});
    // Each level beats the metric level, which beats the resource level; reserved labels beat all.
    assert_eq!(run(r, &obj), format!("m{{{L},name=\"w-one\",team=\"storage\",tier=\"silver\",zone=\"b\"}} 1\n"));
}

#[test]
fn labels_are_sorted_and_sanitised() {
    let r = json!({
        "metricNamePrefix": "",
        "labelsFromPath": {"zeta": ["a"], "app.name": ["b"], "Alpha-1": ["c"], "n": ["d"], "f": ["e"], "missing": ["nope"]},
        "metrics": [{"name": "m", "help": "h", "each": {"type": "Gauge", "gauge": {"path": ["v"]}}}]
    });
    let obj = json!({"a": "z", "b": "x\"y", "c": true, "d": 12, "e": 1.5, "v": 1});
    assert_eq!(
        run(r, &obj),
        format!("m{{Alpha_1=\"true\",app_name=\"x\\\"y\",{L},f=\"1.5\",n=\"12\",zeta=\"z\"}} 1\n")
    );
}

#[test]
fn map_copies_with_star_and_prefix() {
    let obj = json!({"metadata": {"labels": {"app.kubernetes.io/name": "web", "tier": "front"}, "annotations": {"team": "a"}}, "v": 1});
    let metrics = json!([{"name": "m", "help": "h", "each": {"type": "Gauge", "gauge": {"path": ["v"]}}}]);
    let r = json!({"metricNamePrefix": "", "labelsFromPath": {"*": ["metadata", "labels"]}, "metrics": metrics});
    assert_eq!(run(r, &obj), format!("m{{app_kubernetes_io_name=\"web\",{L},tier=\"front\"}} 1\n"));
    let r = json!({"metricNamePrefix": "", "labelsFromPath": {
        "label_*": ["metadata", "labels"], "annotation_*": ["metadata", "annotations"], "label_tier": ["metadata", "annotations", "team"]
    }, "metrics": metrics});
    // Explicit keys override what a map copy produced.
    assert_eq!(
        run(r, &obj),
        format!("m{{annotation_team=\"a\",{L},label_app_kubernetes_io_name=\"web\",label_tier=\"a\"}} 1\n")
    );
    // A copy of something that is not a map adds nothing.
    let r = json!({"metricNamePrefix": "", "labelsFromPath": {"x_*": ["v"]}, "metrics": metrics});
    assert_eq!(run(r, &obj), format!("m{{{L}}} 1\n"));
    // Keys from the object that would make an invalid label name: a leading digit gets a `_` in front,
    // a key that sanitises to nothing is dropped (upstream writes both as they come, and Prometheus then
    // rejects the scrape).
    let odd = json!({"metadata": {"labels": {"1st": "a", "": "b"}}, "v": 1});
    let r = json!({"metricNamePrefix": "", "labelsFromPath": {"*": ["metadata", "labels"]}, "metrics": metrics});
    assert_eq!(run(r, &odd), format!("m{{_1st=\"a\",{L}}} 1\n"));
}

#[test]
fn star_copy_keys_that_sanitise_alike_keep_the_last_in_key_order() {
    // `a.b`, `a-b` and `a_b` all become `a_b`. Upstream walks a Go map, so which value it keeps changes
    // from scrape to scrape; here keys are walked in byte order and the last one wins, every time.
    let obj = json!({"metadata": {"labels": {"a_b": "underscore", "a.b": "dot", "a-b": "dash"}}, "v": 1});
    let metrics = json!([{"name": "m", "help": "h", "each": {"type": "Gauge", "gauge": {"path": ["v"]}}}]);
    let r = json!({"metricNamePrefix": "", "labelsFromPath": {"*": ["metadata", "labels"]}, "metrics": metrics});
    assert_eq!(run(r, &obj), format!("m{{a_b=\"underscore\",{L}}} 1\n"));
}

#[test]
fn families_carry_name_help_and_type_in_order() {
    use state_metrics::family::MetricType;
    let cfg = json!({"spec": {"resources": [{
        "groupVersionKind": {"group": "ex.dev", "version": "v1", "kind": "Widget"},
        "metricNamePrefix": "w",
        "metrics": [
            {"name": "a", "help": "A.", "each": {"type": "gauge", "gauge": {"path": ["x"]}}},
            {"name": "b", "help": "B.", "each": {"type": "StateSet", "stateSet": {"path": ["x"], "labelName": "s"}}},
            {"name": "c_info", "help": "C.", "each": {"type": "Info", "info": {"path": ["x"]}}}
        ]
    }]}});
    let res = load_and_compile(&cfg.to_string()).unwrap();
    let f = res[0].families();
    assert_eq!(
        f.iter().map(|f| (f.name.as_str(), f.help.as_str(), f.kind)).collect::<Vec<_>>(),
        [("w_a", "A.", MetricType::Gauge), ("w_b", "B.", MetricType::StateSet), ("w_c_info", "C.", MetricType::Info)]
    );
    assert_eq!(res[0].family_names(), ["w_a", "w_b", "w_c_info"]);
    assert_eq!(res[0].plural(), "widgets");
    // Text format turns stateset/info into gauge; OpenMetrics keeps them.
    let mut h = Vec::new();
    res[0].write_header(1, &mut h, false);
    res[0].write_header(2, &mut h, true);
    assert_eq!(
        String::from_utf8(h).unwrap(),
        "# HELP w_b B.\n# TYPE w_b gauge\n# HELP w_c_info C.\n# TYPE w_c_info info\n"
    );
    // Rendering a subset keeps the requested order.
    let r = res[0].render_enabled(&json!({"x": 2}), &[2, 0]);
    assert_eq!(r.family_count(), 2);
    assert_eq!(r.family(0), b"");
    assert_eq!(
        String::from_utf8(r.family(1).to_vec()).unwrap(),
        "w_a{customresource_group=\"ex.dev\",customresource_kind=\"Widget\",customresource_version=\"v1\"} 2\n"
    );
}
