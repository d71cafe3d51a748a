use std::collections::BTreeMap;

use super::*;

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn grammar_and_matching() {
    let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5"), ("example.com/zone", "a")]);
    for (sel, want) in [
        ("", true),
        ("   ", true),
        ("app=web", true),
        ("app==web", true),
        ("app!=web", false),
        ("missing!=x", true),
        ("app in (web, db)", true),
        ("app in (db)", false),
        ("app notin (web)", false),
        ("app notin (web,db)", false),
        ("missing notin (web)", true),
        ("missing in (x)", false),
        ("tier", true),
        ("tier,app=web", true),
        ("!tier", false),
        ("!missing", true),
        ("app=web,tier=back", false),
        ("app=web,tier in (front,back)", true),
        ("n>3", true),
        ("n<3", false),
        ("n>5", false),
        ("app>3", false),
        ("missing<3", false),
        ("example.com/zone=a", true),
        ("example.com/app", false),
        ("  app = web ,  tier  ", true),
        ("app=", false),
        ("missing=", false),
        ("missing!=", true),
    ] {
        assert_eq!(Selector::parse(sel).unwrap().matches(&l), want, "{sel:?}");
    }
}

#[test]
fn errors() {
    for sel in [
        "app=web,",
        ",app",
        "a b=c",
        "app in web",
        "app in (web",
        "app in (a b)",
        "x=#",
        "n>x",
        "n>",
        "n>1.5",
        "!",
        "!a=b",
        "a=(b)",
        "a=b c",
        "=a",
        "-a=b",
        "a/b/c",
        "Example.com/a",
        "/a",
        "a/",
        "a=b)",
        "a!b",
    ] {
        assert!(Selector::parse(sel).is_err(), "{sel:?}");
    }
    let long = "a".repeat(64);
    assert!(Selector::parse(&long).is_err());
    assert!(Selector::parse(&format!("k={long}")).is_err());
    assert!(Selector::parse(&"a".repeat(63)).is_ok());
}

#[test]
fn error_messages() {
    assert_eq!(
        Selector::parse("x=#").unwrap_err().to_string(),
        "unable to parse requirement: invalid label value: \"#\""
    );
    assert_eq!(Selector::parse("a/b/c").unwrap_err(), ParseError::Key("a/b/c".into()));
    assert_eq!(Selector::parse("n<x").unwrap_err(), ParseError::NotInteger("x".into()));
    assert_eq!(
        Selector::parse("a=b,").unwrap_err().to_string(),
        "unable to parse requirement: found 'end of string', expected: !, identifier"
    );
}

#[test]
fn empty_set_values() {
    let s = Selector::parse("a in ()").unwrap();
    assert_eq!(s.requirements()[0].operator(), &Operator::In([String::new()].into()));
    assert!(s.matches(&labels(&[("a", "")])));
    assert!(!s.matches(&labels(&[("a", "x")])));
    let s = Selector::parse("a notin (x,)").unwrap();
    assert_eq!(s.requirements()[0].operator(), &Operator::NotIn(["x".to_string(), String::new()].into()));
}

#[test]
fn canonical_display_round_trips() {
    for (sel, canonical) in [
        ("", ""),
        ("tier,app==web", "app=web,tier"),
        ("b notin (z, y),a in (x)", "a in (x),b notin (y,z)"),
        ("!k,k2!=v", "!k,k2!=v"),
        ("n>-3,m<+4", "m<4,n>-3"),
        ("a in ()", "a in ()"),
        ("a in (,x)", "a in (,x)"),
        ("x.io/k=", "x.io/k="),
    ] {
        let s = Selector::parse(sel).unwrap();
        assert_eq!(s.to_string(), canonical, "{sel:?}");
        assert_eq!(Selector::parse(canonical).unwrap(), s, "{sel:?}");
    }
}

#[test]
fn and_combines() {
    let a = Selector::parse("zone=b").unwrap();
    let b = Selector::parse("app=web").unwrap();
    let both = a.and(&b);
    assert_eq!(both.to_string(), "app=web,zone=b");
    assert!(both.matches(&labels(&[("app", "web"), ("zone", "b")])));
    assert!(!both.matches(&labels(&[("app", "web"), ("zone", "c")])));
}

#[test]
fn label_sources() {
    let s = Selector::parse("app=web,!gone").unwrap();
    let pairs = vec![("app".to_string(), "web".to_string())];
    assert!(s.matches(&pairs));
    assert!(s.matches(pairs.as_slice()));
    assert!(s.matches(&[("app", "web")][..]));
    let hm: std::collections::HashMap<String, String> = pairs.iter().cloned().collect();
    assert!(s.matches(&hm));
    assert!(s.matches_with(|k| (k == "app").then_some("web")));
    assert!(!s.matches_with(|_| Some("web")));
}
