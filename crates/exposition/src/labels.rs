//! Kubernetes label/annotation keys → Prometheus label names (ksm-format.md §5).

use std::collections::{HashMap, HashSet};

/// Prometheus label names for Kubernetes label/annotation keys, which the caller passes already
/// sorted by original key: `<prefix>_<sanitize_snake(key)>`, with `_conflictN` suffixes where keys
/// collide (ksm-format.md §5 step 3):
/// * the first key producing name N keeps N until a second key maps to N; then the first is renamed
///   in place to `N_conflict1` and the second gets `N_conflict2`; later ones get the next counter;
/// * a candidate `N_conflictK` already taken by some other emitted name is skipped (K increments),
///   for the renamed first holder as for the later keys;
/// * a key whose N is already taken by such a rename gets `N_conflictK` (first free K) itself, so no
///   name is ever emitted twice (the spec is silent here; found by fuzzing).
pub fn kube_label_names(prefix: &str, keys: &[&str]) -> Vec<String> {
    struct Conflict {
        /// Highest `_conflictK` counter handed out for this base name (1 before any collision).
        count: u32,
        /// Position of the first key that produced the base name.
        initial: usize,
    }
    let mut names: Vec<String> = Vec::with_capacity(keys.len());
    let mut used: HashSet<String> = HashSet::with_capacity(keys.len());
    let mut conflicts: HashMap<String, Conflict> = HashMap::with_capacity(keys.len());
    let next_free = |base: &str, from: u32, used: &HashSet<String>| -> (u32, String) {
        let mut k = from;
        loop {
            let candidate = format!("{base}_conflict{k}");
            if !used.contains(&candidate) {
                return (k, candidate);
            }
            k += 1;
        }
    };
    for key in keys {
        let base = format!("{prefix}_{}", sanitize_snake(key));
        let name = match conflicts.get_mut(&base) {
            Some(c) => {
                if c.count == 1 {
                    // First collision: the earlier holder moves to its own `_conflictK` name.
                    let (k, renamed) = next_free(&base, 1, &used);
                    let old = std::mem::replace(&mut names[c.initial], renamed.clone());
                    used.remove(&old);
                    used.insert(renamed);
                    c.count = k;
                }
                let (k, name) = next_free(&base, c.count + 1, &used);
                c.count = k;
                name
            }
            // The name is free as far as keys go, but an earlier collision renamed another key to it
            // (`a-`, `a_`, `a__conflict1`): this key steps aside to its own first free `_conflictK`, since a
            // repeated label name would make Prometheus reject the whole scrape.
            None if used.contains(&base) => {
                let (k, name) = next_free(&base, 1, &used);
                conflicts.insert(base, Conflict { count: k, initial: names.len() });
                name
            }
            None => {
                conflicts.insert(base.clone(), Conflict { count: 1, initial: names.len() });
                base
            }
        };
        used.insert(name.clone());
        names.push(name);
    }
    names
}

/// Every Unicode code point outside `[a-zA-Z0-9_]` becomes one `_` (Go's
/// `[^a-zA-Z0-9_]` → `_`). Used alone for `resource` label values and CRS label names.
pub fn sanitize_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// [`sanitize_name`], then `_` inserted between a `[a-z0-9]` and a following `[A-Z]` (Go's
/// `([a-z0-9])([A-Z])` → `${1}_${2}`), then lowercased. The regexp's non-overlapping left-to-right
/// matching needs no special care: a match ends on a capital, which can never start the next match,
/// so every capital preceded by a lowercase letter or digit gets its `_`.
pub fn sanitize_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_lower_or_digit = false;
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' };
        if c.is_ascii_uppercase() && prev_lower_or_digit {
            out.push('_');
        }
        prev_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A literal transcription of the Go regexp replacement, to cross-check the single pass:
    /// scan for the leftmost match of `[a-z0-9][A-Z]`, replace, continue after the match.
    fn regex_model(s: &str) -> String {
        let sanitized = sanitize_name(s);
        let b = sanitized.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            if i + 1 < b.len() && (b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) && b[i + 1].is_ascii_uppercase()
            {
                out.push(b[i] as char);
                out.push('_');
                out.push(b[i + 1] as char);
                i += 2;
            } else {
                out.push(b[i] as char);
                i += 1;
            }
        }
        out.to_lowercase()
    }

    #[test]
    fn snake_case_examples_from_the_spec() {
        let cases = [
            ("app.kubernetes.io/name", "app_kubernetes_io_name"),
            ("deplEnv", "depl_env"),
            ("keyA", "key_a"),
            ("snake_camelCase", "snake_camel_case"),
            ("ABCDef", "abcdef"),
            ("", ""),
            ("$app4", "_app4"),
            ("0_app3", "0_app3"),
            ("aBC", "a_bc"),
            ("aBcD", "a_bc_d"),
            ("a1B", "a1_b"),
            ("é", "_"),
            ("naïveKey", "na_ve_key"),
            ("x🙂Y", "x_y"),
            ("UPPER", "upper"),
            ("k8sApp", "k8s_app"),
            ("a-B", "a_b"),
        ];
        for (key, want) in cases {
            assert_eq!(sanitize_snake(key), want, "key {key:?}");
            assert_eq!(regex_model(key), want, "model for {key:?}");
        }
    }

    #[test]
    fn single_pass_agrees_with_the_regex_model_on_many_keys() {
        let alphabet = ['a', 'Z', 'b', 'Q', '0', '9', '_', '.', '/', '-', 'é', 'x', 'Y'];
        let mut state = 12345u64;
        for _ in 0..5000 {
            let mut key = String::new();
            for _ in 0..(state % 9) {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                key.push(alphabet[((state >> 33) % alphabet.len() as u64) as usize]);
            }
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            assert_eq!(sanitize_snake(&key), regex_model(&key), "key {key:?}");
        }
    }

    #[test]
    fn a_key_landing_on_an_earlier_conflict_rename_gets_its_own_name() {
        assert_eq!(
            kube_label_names("label", &["a-", "a_", "a__conflict1"]),
            ["label_a__conflict1", "label_a__conflict2", "label_a__conflict1_conflict1"]
        );
        // The other order was already safe: the renamed holder skips the taken candidate.
        assert_eq!(
            kube_label_names("label", &["a__conflict1", "a-", "a_"]),
            ["label_a__conflict1", "label_a__conflict2", "label_a__conflict3"]
        );
    }

    #[test]
    fn sanitize_name_replaces_per_code_point_without_case_changes() {
        assert_eq!(sanitize_name("nvidia.com/gpu"), "nvidia_com_gpu");
        assert_eq!(sanitize_name("ephemeral-storage"), "ephemeral_storage");
        assert_eq!(sanitize_name("hugepages-2Mi"), "hugepages_2Mi");
        assert_eq!(sanitize_name("héllo wörld"), "h_llo_w_rld");
        assert_eq!(sanitize_name("camelCase"), "camelCase");
        assert_eq!(sanitize_name(""), "");
    }

    #[test]
    fn label_names_without_conflicts() {
        let keys = ["", "$app4", "0_app3", "ABCDef", "app.kubernetes.io/name", "deplEnv", "keyA", "snake_camelCase"];
        assert_eq!(
            kube_label_names("label", &keys),
            [
                "label_",
                "label__app4",
                "label_0_app3",
                "label_abcdef",
                "label_app_kubernetes_io_name",
                "label_depl_env",
                "label_key_a",
                "label_snake_camel_case",
            ]
        );
        assert!(kube_label_names("label", &[]).is_empty());
    }

    #[test]
    fn two_colliding_keys_become_conflict1_and_conflict2() {
        // Sorted bytewise: "foo-bar" < "foo.bar" < "foo_bar"; all sanitise to foo_bar.
        assert_eq!(
            kube_label_names("label", &["bar", "foo-bar", "foo.bar", "foo_bar", "zzz"]),
            ["label_bar", "label_foo_bar_conflict1", "label_foo_bar_conflict2", "label_foo_bar_conflict3", "label_zzz"]
        );
        assert_eq!(
            kube_label_names("annotation", &["Foo", "foo"]),
            ["annotation_foo_conflict1", "annotation_foo_conflict2"]
        );
    }

    #[test]
    fn independent_collisions_count_separately() {
        assert_eq!(
            kube_label_names("label", &["a-b", "a.b", "c-d", "c.d", "c/d"]),
            [
                "label_a_b_conflict1",
                "label_a_b_conflict2",
                "label_c_d_conflict1",
                "label_c_d_conflict2",
                "label_c_d_conflict3"
            ]
        );
    }

    #[test]
    fn conflict_candidates_already_emitted_are_skipped() {
        // "A_conflict1" is emitted as a plain name before "a" collides with "A".
        assert_eq!(
            kube_label_names("label", &["A", "A_conflict1", "a"]),
            ["label_a_conflict2", "label_a_conflict1", "label_a_conflict3"]
        );
        // Candidate 2 for the second key is taken, so it gets 3.
        assert_eq!(
            kube_label_names("label", &["A", "A_conflict2", "a"]),
            ["label_a_conflict1", "label_a_conflict2", "label_a_conflict3"]
        );
        // Emitted names stay unique in all these cases.
        for keys in [&["A", "A_conflict1", "a"][..], &["A", "A_conflict2", "a", "a.", "a_"]] {
            let names = kube_label_names("label", keys);
            let unique: HashSet<&String> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "{names:?}");
        }
    }

    #[test]
    fn a_later_plain_name_equal_to_an_earlier_conflict_name_steps_aside() {
        // The spec's rule only guards `_conflictK` candidates, and upstream emits such a name twice,
        // which makes Prometheus reject the whole scrape ("duplicate label names"). We give the later
        // key its own `_conflictK` instead.
        assert_eq!(
            kube_label_names("label", &["x-y", "x.y", "x_y", "x_y_conflict3"]),
            ["label_x_y_conflict1", "label_x_y_conflict2", "label_x_y_conflict3", "label_x_y_conflict3_conflict1"]
        );
    }
}
