//! Which of the planned resources the API server serves, learned from discovery.
//!
//! A cluster older than the newest Kubernetes does not serve every kind kube-state-metrics reads (the
//! admission-policy kinds at `admissionregistration.k8s.io/v1` arrived in v1.30 and v1.36). Listing a kind
//! the server does not serve only ever answers 404, so such a resource is not listed at all: it is skipped
//! with one log line, does not hold readiness back, and starts when the server begins serving it (an
//! upgrade). Discovery is asked once per group/version the plan uses (`/api/v1`, `/apis/<group>/<version>`),
//! the same documents kubectl reads.
//!
//! The decisions are pure ([`answer_of`], [`Availability::of`], [`Tracker`]); [`probe`] does the IO.

use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};

use crate::ingest::driver::{ACCEPT_JSON, Transport};
use crate::ingest::wire::Failure;

/// Discovery documents are small (the largest, `/api/v1`, is ~10 KiB); anything far larger is not one.
const MAX_DOCUMENT: usize = 4 << 20;

/// The discovery path of a group/version: `v1` → `/api/v1`, `apps/v1` → `/apis/apps/v1`.
pub fn group_version_path(api_version: &str) -> String {
    if api_version.contains('/') { format!("/apis/{api_version}") } else { format!("/api/{api_version}") }
}

/// What discovery said about one group/version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupVersion {
    /// Served, with the names of its resources (subresources left out).
    Served(BTreeSet<String>),
    /// The server answered 404: it does not serve this group/version at all.
    NotServed,
    /// No answer (unreachable, forbidden, an error, a document not understood): nothing is known.
    Unknown(String),
}

/// Whether the server serves one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    Served,
    NotServed,
    /// Discovery did not answer; the resource is listed as if served, so its own list/watch reports
    /// what is wrong (unreachable server, RBAC), and discovery is asked again.
    Unknown,
}

impl Availability {
    /// `plural` in a group/version discovery answered as `gv`.
    pub fn of(gv: &GroupVersion, plural: &str) -> Availability {
        match gv {
            GroupVersion::Served(names) if names.contains(plural) => Availability::Served,
            GroupVersion::Served(_) | GroupVersion::NotServed => Availability::NotServed,
            GroupVersion::Unknown(_) => Availability::Unknown,
        }
    }

    /// Whether the resource is listed and watched.
    pub fn runs(self) -> bool {
        self != Availability::NotServed
    }
}

/// A discovery answer: the body of a successful GET, or the failure.
pub fn answer_of(result: Result<Vec<u8>, Failure>) -> GroupVersion {
    match result {
        Ok(body) => match resource_names(&body) {
            Ok(names) => GroupVersion::Served(names),
            Err(e) => GroupVersion::Unknown(format!("discovery document not understood: {e}")),
        },
        Err(f) if f.code() == Some(404) => GroupVersion::NotServed,
        Err(f) => GroupVersion::Unknown(f.to_string()),
    }
}

/// The resource names of an `APIResourceList` (subresources such as `pods/status` left out).
pub fn resource_names(body: &[u8]) -> Result<BTreeSet<String>, String> {
    #[derive(serde::Deserialize)]
    struct List {
        #[serde(default)]
        resources: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
    }
    let list: List = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(list.resources.into_iter().map(|e| e.name).filter(|n| !n.contains('/')).collect())
}

/// The `gitVersion` of a `/version` answer.
pub fn git_version(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Info {
        #[serde(rename = "gitVersion")]
        git_version: String,
    }
    serde_json::from_slice::<Info>(body).ok().map(|i| i.git_version)
}

/// GETs `path` and collects its body (JSON).
pub async fn fetch<T: Transport + ?Sized>(transport: &T, path: &str) -> Result<Vec<u8>, Failure> {
    let resp = transport.get(path.to_owned(), ACCEPT_JSON).await?;
    let mut body = resp.body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
        if out.len() > MAX_DOCUMENT {
            return Err(Failure::Undecodable(format!("{path}: answer larger than {MAX_DOCUMENT} bytes")));
        }
    }
    Ok(out)
}

/// Asks discovery about every group/version in `api_versions`, all at once.
pub async fn probe<T: Transport + ?Sized>(
    transport: &T,
    api_versions: &BTreeSet<String>,
) -> BTreeMap<String, GroupVersion> {
    let asks = api_versions.iter().map(|gv| async move {
        let answer = answer_of(fetch(transport, &group_version_path(gv)).await);
        (gv.clone(), answer)
    });
    futures::future::join_all(asks).await.into_iter().collect()
}

/// One planned resource, as discovery sees it.
#[derive(Clone, Debug)]
pub struct Planned {
    /// kube-state-metrics' name (`validatingadmissionpolicies`).
    pub name: String,
    /// Its group/version (`admissionregistration.k8s.io/v1`).
    pub api_version: String,
    /// Older group/versions of the kind with the same fields, newest first, read where `api_version`
    /// is not served (`admissionregistration.k8s.io/v1beta1`).
    pub older: Vec<String>,
    /// Its resource name in discovery.
    pub plural: String,
    /// Named in `--resources` (a missing one is then a warning, not news).
    pub explicit: bool,
}

impl Planned {
    /// Its group/versions in order of preference.
    pub fn candidates(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.api_version).chain(&self.older)
    }
}

/// Which group/version of `p` to read, as an index into [`Planned::candidates`], and whether it is
/// served: the first one served, in order of preference. A group/version without an answer stops the
/// search (nothing is concluded past it); `None` when a candidate is missing from `answers`.
pub fn choose(p: &Planned, answers: &BTreeMap<String, GroupVersion>) -> Option<(Availability, usize)> {
    for (at, gv) in p.candidates().enumerate() {
        match Availability::of(answers.get(gv)?, &p.plural) {
            Availability::NotServed => continue,
            found => return Some((found, at)),
        }
    }
    Some((Availability::NotServed, 0))
}

/// A change to act on: start or stop the resource at this index of the plan (a resource that runs
/// may also be restarted at another group/version: see [`Tracker::api_version`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub index: usize,
    pub runs: bool,
}

/// What each planned resource's availability is, and what changed with each discovery round.
#[derive(Clone, Debug)]
pub struct Tracker {
    planned: Vec<Planned>,
    now: Vec<Option<Availability>>,
    /// Per resource, the index of the group/version read (see [`choose`]).
    at: Vec<usize>,
}

impl Tracker {
    pub fn new(planned: Vec<Planned>) -> Self {
        let now = vec![None; planned.len()];
        let at = vec![0; planned.len()];
        Tracker { planned, now, at }
    }

    pub fn planned(&self) -> &[Planned] {
        &self.planned
    }

    /// The group/versions to ask about: at first all; later only those of resources not known to be
    /// served (served group/versions are not asked again: a served kind does not go away in an upgrade).
    pub fn to_ask(&self) -> BTreeSet<String> {
        self.planned
            .iter()
            .zip(&self.now)
            .filter(|(_, a)| !matches!(a, Some(Availability::Served)))
            .flat_map(|(p, _)| p.candidates().cloned())
            .collect()
    }

    /// Whether there is anything left to learn.
    pub fn settled(&self) -> bool {
        self.now.iter().all(|a| matches!(a, Some(Availability::Served)))
    }

    pub fn availability(&self, index: usize) -> Option<Availability> {
        self.now.get(index).copied().flatten()
    }

    /// The group/version resource `index` is read at.
    pub fn api_version(&self, index: usize) -> &str {
        let p = &self.planned[index];
        p.candidates().nth(self.at[index]).unwrap_or(&p.api_version)
    }

    /// Takes a round of answers; returns the resources whose running state changed (on the first
    /// round, every resource, so the caller starts exactly those that run).
    pub fn update(&mut self, answers: &BTreeMap<String, GroupVersion>) -> Vec<Change> {
        let mut changes = Vec::new();
        for (index, p) in self.planned.iter().enumerate() {
            let Some((new, at)) = choose(p, answers) else { continue };
            let (old, old_at) = (self.now[index], self.at[index]);
            // A served kind stays served (kinds do not go away in an upgrade, and a group/version
            // missing for a moment is no reason to drop what was listed); a failed round says nothing new.
            if old == Some(Availability::Served) || (new == Availability::Unknown && old.is_some()) {
                continue;
            }
            self.now[index] = Some(new);
            self.at[index] = at;
            let moved = new.runs() && old.is_some_and(Availability::runs) && old_at != at;
            if old.map(Availability::runs) != Some(new.runs()) || moved {
                changes.push(Change { index, runs: new.runs() });
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::wire::Status;

    fn planned(name: &str, gv: &str, explicit: bool) -> Planned {
        Planned { name: name.into(), api_version: gv.into(), older: Vec::new(), plural: name.into(), explicit }
    }

    fn status(code: u16) -> Failure {
        Failure::Status(Status {
            code,
            reason: "NotFound".into(),
            message: "the server could not find the requested resource".into(),
            ..Status::default()
        })
    }

    const ADMISSION_1_28: &str = r#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"admissionregistration.k8s.io/v1","resources":[{"name":"mutatingwebhookconfigurations","singularName":"mutatingwebhookconfiguration","namespaced":false,"kind":"MutatingWebhookConfiguration","verbs":["list"]},{"name":"validatingwebhookconfigurations","singularName":"","namespaced":false,"kind":"ValidatingWebhookConfiguration","verbs":["list"]},{"name":"validatingwebhookconfigurations/status","namespaced":false,"kind":"ValidatingWebhookConfiguration","verbs":["get"]}]}"#;

    #[test]
    fn paths_and_documents() {
        assert_eq!(group_version_path("v1"), "/api/v1");
        assert_eq!(group_version_path("apps/v1"), "/apis/apps/v1");
        let names = resource_names(ADMISSION_1_28.as_bytes()).unwrap();
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"]
        );
        assert!(resource_names(b"not json").is_err());
        assert_eq!(git_version(br#"{"major":"1","minor":"28","gitVersion":"v1.28.7"}"#).as_deref(), Some("v1.28.7"));
        assert_eq!(git_version(b"{}"), None);
    }

    #[test]
    fn answers_classify_404_apart_from_other_failures() {
        assert!(matches!(answer_of(Ok(ADMISSION_1_28.as_bytes().to_vec())), GroupVersion::Served(_)));
        assert_eq!(answer_of(Err(status(404))), GroupVersion::NotServed);
        assert!(matches!(answer_of(Err(status(403))), GroupVersion::Unknown(m) if m.contains("403")));
        assert!(matches!(answer_of(Err(Failure::Unreachable("connection refused".into()))), GroupVersion::Unknown(_)));
        assert!(matches!(answer_of(Ok(b"<html>".to_vec())), GroupVersion::Unknown(m) if m.contains("not understood")));
    }

    #[test]
    fn a_kind_missing_from_a_served_group_version_is_not_served() {
        let gv = answer_of(Ok(ADMISSION_1_28.as_bytes().to_vec()));
        assert_eq!(Availability::of(&gv, "validatingwebhookconfigurations"), Availability::Served);
        assert_eq!(Availability::of(&gv, "validatingadmissionpolicies"), Availability::NotServed);
        assert_eq!(Availability::of(&GroupVersion::NotServed, "x"), Availability::NotServed);
        assert_eq!(Availability::of(&GroupVersion::Unknown("e".into()), "x"), Availability::Unknown);
        assert!(Availability::Unknown.runs() && Availability::Served.runs() && !Availability::NotServed.runs());
    }

    #[test]
    fn tracker_starts_what_runs_and_reports_only_changes() {
        let gv = "admissionregistration.k8s.io/v1";
        let mut t = Tracker::new(vec![
            planned("validatingwebhookconfigurations", gv, false),
            planned("validatingadmissionpolicies", gv, false),
            planned("pods", "v1", false),
        ]);
        assert_eq!(t.to_ask().len(), 2);
        // First round: the server is unreachable for core, 1.28 for admission.
        let mut answers = BTreeMap::new();
        answers.insert(gv.to_owned(), answer_of(Ok(ADMISSION_1_28.as_bytes().to_vec())));
        answers.insert("v1".to_owned(), GroupVersion::Unknown("connection refused".into()));
        assert_eq!(
            t.update(&answers),
            [Change { index: 0, runs: true }, Change { index: 1, runs: false }, Change { index: 2, runs: true }]
        );
        assert!(!t.settled());
        // Only what is not known to be served is asked again.
        assert_eq!(t.to_ask().into_iter().collect::<Vec<_>>(), [gv.to_owned(), "v1".to_owned()]);
        // A failed round changes nothing; a later answer that still runs is no change either.
        answers.insert(gv.to_owned(), GroupVersion::Unknown("timeout".into()));
        assert_eq!(t.update(&answers), []);
        assert_eq!(t.availability(1), Some(Availability::NotServed));
        let core = r#"{"resources":[{"name":"pods"},{"name":"pods/log"}]}"#;
        answers.insert("v1".to_owned(), answer_of(Ok(core.as_bytes().to_vec())));
        assert_eq!(t.update(&answers), []);
        assert_eq!(t.availability(2), Some(Availability::Served));
        // The upgrade: the kind appears.
        let upgraded = ADMISSION_1_28.replace(
            r#"{"name":"mutatingwebhookconfigurations""#,
            r#"{"name":"validatingadmissionpolicies"},{"name":"mutatingwebhookconfigurations""#,
        );
        answers.insert(gv.to_owned(), answer_of(Ok(upgraded.into_bytes())));
        assert_eq!(t.update(&answers), [Change { index: 1, runs: true }]);
        assert!(t.settled());
        assert!(t.to_ask().is_empty());
    }

    #[test]
    fn an_older_version_is_read_where_the_newest_is_not_served() {
        let (v1, beta) = ("admissionregistration.k8s.io/v1", "admissionregistration.k8s.io/v1beta1");
        let mut p = planned("validatingadmissionpolicies", v1, false);
        p.older = vec![beta.to_owned()];
        let beta_doc =
            r#"{"resources":[{"name":"validatingadmissionpolicies"},{"name":"validatingadmissionpolicies/status"}]}"#;
        let served = || answer_of(Ok(beta_doc.as_bytes().to_vec()));
        let v1_1_28 = || answer_of(Ok(ADMISSION_1_28.as_bytes().to_vec()));
        let round = |a: GroupVersion, b: GroupVersion| BTreeMap::from([(v1.to_owned(), a), (beta.to_owned(), b)]);
        // 1.28 with the beta API on; without it; 1.30 (served at v1: the beta is not looked at).
        assert_eq!(choose(&p, &round(v1_1_28(), served())), Some((Availability::Served, 1)));
        assert_eq!(choose(&p, &round(v1_1_28(), GroupVersion::NotServed)), Some((Availability::NotServed, 0)));
        assert_eq!(choose(&p, &round(served().clone(), GroupVersion::NotServed)), Some((Availability::Served, 0)));
        // Nothing is concluded past a group/version without an answer.
        assert_eq!(choose(&p, &round(GroupVersion::Unknown("e".into()), served())), Some((Availability::Unknown, 0)));
        assert_eq!(choose(&p, &round(v1_1_28(), GroupVersion::Unknown("e".into()))), Some((Availability::Unknown, 1)));
        assert_eq!(choose(&p, &BTreeMap::from([(v1.to_owned(), v1_1_28())])), None);

        // Listed at v1 while discovery had not answered, then found at v1beta1: a change to restart.
        let mut t = Tracker::new(vec![p]);
        assert_eq!(t.to_ask().into_iter().collect::<Vec<_>>(), [v1, beta]);
        let unknown = || GroupVersion::Unknown("timeout".into());
        assert_eq!(t.update(&round(unknown(), unknown())), [Change { index: 0, runs: true }]);
        assert_eq!(t.api_version(0), v1);
        assert_eq!(t.update(&round(v1_1_28(), served())), [Change { index: 0, runs: true }]);
        assert_eq!((t.availability(0), t.api_version(0)), (Some(Availability::Served), beta));
        assert!(t.settled());
    }

    #[test]
    fn a_resource_served_then_missing_stops() {
        let mut t = Tracker::new(vec![planned("pods", "v1", true)]);
        let mut answers = BTreeMap::new();
        answers.insert("v1".to_owned(), GroupVersion::Unknown("refused".into()));
        assert_eq!(t.update(&answers), [Change { index: 0, runs: true }]);
        answers.insert("v1".to_owned(), GroupVersion::NotServed);
        assert_eq!(t.update(&answers), [Change { index: 0, runs: false }]);
    }
}
