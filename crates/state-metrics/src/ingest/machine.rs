//! The list/watch state machine of one collection, free of IO.
//!
//! The driver asks [`Watcher::request`] what to do, performs it, and feeds what came back to
//! [`Watcher::on`] one input at a time (each object of a list, each watch event, the end of a response, a
//! failure). The watcher answers with store changes and notes for logs and telemetry, and says whether the
//! driver should keep reading the current response. Every decision lives here, so each one is tested
//! without a network (see the tests below); the choices follow client-go's reflector (v0.36), as cited at
//! each one, plus one of ours: noticing that the server's history went backwards.

use std::time::{Duration, Instant};

use kube::runtime::utils::Backoff;

use super::wire::{Failure, FailureClass, Status, rv_number};
use crate::family::Rendered;
use crate::key::ObjectKey;
use crate::textstore::StoreEvent;

/// How a collection is listed and watched.
#[derive(Clone, Debug)]
pub struct Config {
    /// Try a streaming list (`sendInitialEvents=true`) before a plain list, as client-go does with its
    /// `WatchListClient` feature (on by default since v0.35).
    pub streaming: bool,
    /// `--use-apiserver-cache`: every list reads the watch cache (`resourceVersion=0`), as upstream's
    /// list function forces it.
    pub use_cache: bool,
    /// `limit` of lists that are paginated (client-go's pager: 500).
    pub page_size: u32,
    /// A watch that has delivered nothing (no event, no bookmark) for this long is checked against the
    /// server's current resourceVersion (as is every watch resumed after the connection broke).
    pub idle_check: Duration,
    /// How long a refusal of streaming lists is remembered before one is tried again (the server may
    /// have been upgraded meanwhile).
    pub refusal_memory: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            streaming: true,
            use_cache: false,
            page_size: 500,
            idle_check: Duration::from_secs(90),
            refusal_memory: Duration::from_secs(3600),
        }
    }
}

/// What the driver should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`, with
    /// `resourceVersion` when not empty.
    StreamingList { resource_version: String },
    /// One page of a list.
    List { resource_version: String, limit: Option<u32>, continue_token: Option<String> },
    /// `watch=1&allowWatchBookmarks=true&resourceVersion=…`.
    Watch { resource_version: String },
    /// Ask the server's current resourceVersion (a list of one object) and report it as
    /// [`Input::Probed`].
    Probe,
    /// Wait, then report [`Input::Waited`].
    Wait(Duration),
}

impl Request {
    /// The kind of request, for telemetry (`streaming_list`, `list`, `watch`).
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            Request::StreamingList { .. } => Some("streaming_list"),
            Request::List { .. } => Some("list"),
            Request::Watch { .. } => Some("watch"),
            Request::Probe => Some("probe"),
            Request::Wait(_) => None,
        }
    }
}

/// One object as the driver decoded it.
#[derive(Debug)]
pub struct Item {
    pub key: ObjectKey,
    pub resource_version: String,
    /// `None`: the object cannot be rendered (its old series must go).
    pub rendered: Option<Rendered>,
}

/// What came back.
#[derive(Debug)]
pub enum Input {
    /// An object of a list page, or an initial event of a streaming list.
    Object(Item),
    /// A watch event.
    Modified(Item),
    Deleted {
        key: ObjectKey,
        resource_version: String,
    },
    /// The end of a list page.
    ListEnd {
        resource_version: String,
        continue_token: Option<String>,
    },
    Bookmark {
        resource_version: String,
        initial_events_end: bool,
    },
    /// A watch `ERROR` event.
    ErrorEvent(Status),
    /// The response ended cleanly.
    Ended,
    /// A watch ended cleanly well before the timeout it asked for: the server closed it (it may be
    /// restarting, and what answers next may be a restored or another server).
    EndedEarly,
    /// The request failed, or its response broke off.
    Failed(Failure),
    /// A watch delivered nothing for [`Config::idle_check`]: the driver asks the server's current
    /// resourceVersion and reports it (or `None` if it could not).
    Probed(Option<String>),
    /// A [`Request::Wait`] is over.
    Waited,
}

/// Whether the driver keeps reading the current response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// How a complete initial state was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listed {
    Streamed,
    /// From the watch cache (`resourceVersion=0`).
    Cached,
    /// A consistent (quorum) read.
    Consistent,
    /// At least as new as a given resourceVersion.
    NotOlderThan,
}

impl Listed {
    /// Its telemetry label value (`source` of `kube_state_metrics_initial_lists_total`).
    pub fn label(self) -> &'static str {
        match self {
            Listed::Streamed => "streaming",
            Listed::Cached => "cache",
            Listed::Consistent => "consistent",
            Listed::NotOlderThan => "not_older_than",
        }
    }
}

/// Something worth a log line or a telemetry count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    Listed {
        objects: usize,
        how: Listed,
    },
    /// The server refused a streaming list; lists are used instead for [`Config::refusal_memory`].
    StreamingRefused(Status),
    /// The server's resourceVersion went below one already seen: an etcd restore, or another cluster at
    /// the same address. Everything is listed again.
    HistoryWentBack {
        seen: u64,
        now: u64,
    },
    /// The watch ended in a way that needs a new list (expired resourceVersion).
    Relisting(&'static str),
    /// The first failure after success, or a failure of another class than the last.
    Failing(Failure),
    /// Working again after failures.
    Recovered,
}

#[derive(Debug)]
pub enum Output {
    Store(StoreEvent),
    Note(Note),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Choose how to get the initial state.
    Start,
    /// A streaming list is open: initial objects until the initial-events-end bookmark.
    Streaming { asked: String, began: bool, received: usize },
    /// A list is being read page by page.
    Listing { asked: String, continue_token: Option<String>, began: bool, received: usize },
    /// Watching from `last_sync`; with `verify`, after checking first that the server has not gone
    /// back behind it (the connection broke: the server may have been restored or replaced).
    Watching { started: Option<Instant>, events: usize, verify: bool },
    /// Waiting, then `then`.
    Backoff { delay: Duration, then: Box<State> },
}

/// The state machine of one list/watch.
pub struct Watcher {
    config: Config,
    state: State,
    backoff: Box<dyn Backoff>,
    /// client-go's `lastSyncResourceVersion`: where the next watch (or list at a version) starts.
    last_sync: String,
    /// client-go's `isLastSyncResourceVersionUnavailable`: `last_sync` is known to be expired or too new,
    /// so the next list is a consistent read.
    rv_unavailable: bool,
    /// When a streaming list was last refused.
    refused_at: Option<Instant>,
    /// The highest resourceVersion seen since the last complete list.
    highest: Option<u64>,
    /// The class of the failure last reported, while failing.
    failing: Option<FailureClass>,
}

impl Watcher {
    pub fn new(config: Config, backoff: Box<dyn Backoff>) -> Self {
        Watcher {
            config,
            state: State::Start,
            backoff,
            last_sync: String::new(),
            rv_unavailable: false,
            refused_at: None,
            highest: None,
            failing: None,
        }
    }

    /// The resourceVersion a watch would resume from.
    pub fn last_sync(&self) -> &str {
        &self.last_sync
    }

    /// Whether a watch is established (the initial state is complete and events are flowing).
    pub fn watching(&self) -> bool {
        matches!(self.state, State::Watching { .. })
    }

    /// What to request now. Called when the previous request's response is over (or was stopped).
    pub fn request(&mut self, now: Instant) -> Request {
        if self.state == State::Start {
            self.state = self.initial_state(now);
        }
        match &mut self.state {
            State::Start => unreachable_start(),
            State::Streaming { asked, began, received } => {
                *began = false;
                *received = 0;
                Request::StreamingList { resource_version: asked.clone() }
            }
            State::Listing { asked, continue_token, .. } => {
                // client-go's pager asks for pages of 500, except for a list at a given resourceVersion,
                // which it does not paginate so that the watch cache can serve it.
                let limit = (asked.is_empty() || asked == "0").then_some(self.config.page_size);
                Request::List { resource_version: asked.clone(), limit, continue_token: continue_token.clone() }
            }
            State::Watching { verify: true, .. } => Request::Probe,
            State::Watching { started, events, .. } => {
                *started = Some(now);
                *events = 0;
                Request::Watch { resource_version: self.last_sync.clone() }
            }
            State::Backoff { delay, .. } => Request::Wait(*delay),
        }
    }

    fn initial_state(&self, now: Instant) -> State {
        let refused = self.refused_at.is_some_and(|t| now.saturating_duration_since(t) < self.config.refusal_memory);
        if self.config.streaming && !refused {
            // client-go's watchList: resume from the last resourceVersion (the server then streams the
            // state at least that new), or from "" — the newest — once that one is unavailable.
            let asked = if self.rv_unavailable { String::new() } else { self.last_sync.clone() };
            State::Streaming { asked, began: false, received: 0 }
        } else {
            State::Listing { asked: self.relist_resource_version(), continue_token: None, began: false, received: 0 }
        }
    }

    /// client-go's `relistResourceVersion`: "" (a consistent read) once the last version is unavailable,
    /// "0" (any version, from the watch cache) for the first list, else the last version. Upstream's
    /// `--use-apiserver-cache` forces "0" on every list.
    fn relist_resource_version(&self) -> String {
        if self.config.use_cache {
            "0".into()
        } else if self.rv_unavailable {
            String::new()
        } else if self.last_sync.is_empty() {
            "0".into()
        } else {
            self.last_sync.clone()
        }
    }

    fn backoff_then(&mut self, then: State) -> State {
        let delay = self.backoff.next().unwrap_or(Duration::from_secs(30));
        State::Backoff { delay, then: Box::new(then) }
    }

    fn fail(&mut self, failure: Failure, out: &mut Vec<Output>) {
        let class = failure.class();
        if self.failing != Some(class) {
            out.push(Output::Store(StoreEvent::Failing(Some(format!("{}: {failure}", class.word())))));
            out.push(Output::Note(Note::Failing(failure)));
        }
        self.failing = Some(class);
    }

    fn succeeded(&mut self, out: &mut Vec<Output>) {
        self.backoff.reset();
        if self.failing.take().is_some() {
            out.push(Output::Store(StoreEvent::Failing(None)));
            out.push(Output::Note(Note::Recovered));
        }
    }

    /// Whether `rv` is below the highest seen; notes it. Versions that are not numbers never compare.
    fn went_back(&mut self, rv: &str, out: &mut Vec<Output>) -> bool {
        match (self.highest, rv_number(rv)) {
            (Some(seen), Some(now)) if now < seen => {
                out.push(Output::Note(Note::HistoryWentBack { seen, now }));
                true
            }
            (_, Some(now)) => {
                self.highest = Some(self.highest.map_or(now, |h| h.max(now)));
                false
            }
            _ => false,
        }
    }

    /// A complete initial state at `rv`: it replaces the objects served and becomes the new baseline.
    fn complete(&mut self, rv: String, objects: usize, how: Listed, out: &mut Vec<Output>) {
        if let (Some(seen), Some(now)) = (self.highest, rv_number(&rv))
            && now < seen
        {
            out.push(Output::Note(Note::HistoryWentBack { seen, now }));
        }
        self.highest = rv_number(&rv);
        self.last_sync = rv;
        self.rv_unavailable = false;
        out.push(Output::Store(StoreEvent::EndRelist));
        out.push(Output::Note(Note::Listed { objects, how }));
        self.succeeded(out);
    }

    /// Feeds one input; appends what follows from it to `out`.
    pub fn on(&mut self, input: Input, now: Instant, out: &mut Vec<Output>) -> Flow {
        let state = std::mem::replace(&mut self.state, State::Start);
        let (state, flow) = match state {
            State::Start => (State::Start, Flow::Stop),
            State::Backoff { delay, then } => match input {
                Input::Waited => (*then, Flow::Stop),
                _ => (State::Backoff { delay, then }, Flow::Stop),
            },
            State::Streaming { asked, began, received } => self.on_streaming(asked, began, received, input, now, out),
            State::Listing { asked, continue_token, began, received } => {
                self.on_listing(asked, continue_token, began, received, input, out)
            }
            State::Watching { started, events, verify } => self.on_watching(started, events, verify, input, now, out),
        };
        self.state = state;
        flow
    }

    fn on_streaming(
        &mut self,
        asked: String,
        mut began: bool,
        mut received: usize,
        input: Input,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> (State, Flow) {
        let begin = |began: &mut bool, out: &mut Vec<Output>| {
            if !*began {
                out.push(Output::Store(StoreEvent::BeginRelist));
                *began = true;
            }
        };
        match input {
            Input::Object(item) | Input::Modified(item) => {
                begin(&mut began, out);
                received += 1;
                out.push(Output::Store(match item.rendered {
                    Some(r) => StoreEvent::Insert(item.key, r),
                    None => StoreEvent::Remove(item.key),
                }));
                (State::Streaming { asked, began, received }, Flow::Continue)
            }
            Input::Deleted { key, .. } => {
                begin(&mut began, out);
                out.push(Output::Store(StoreEvent::Remove(key)));
                (State::Streaming { asked, began, received }, Flow::Continue)
            }
            Input::Bookmark { resource_version, initial_events_end: true } => {
                begin(&mut began, out);
                self.complete(resource_version, received, Listed::Streamed, out);
                // The same response goes on as an ordinary watch.
                (State::Watching { started: Some(now), events: 0, verify: false }, Flow::Continue)
            }
            // Before the initial state is complete a plain bookmark says nothing we can use.
            Input::Bookmark { .. } | Input::Probed(_) | Input::ListEnd { .. } | Input::Waited => {
                (State::Streaming { asked, began, received }, Flow::Continue)
            }
            Input::ErrorEvent(status) => {
                if status.is_expired() || status.is_too_large_resource_version() {
                    // client-go's watchList: the version is unavailable; stream the newest state instead.
                    self.rv_unavailable = true;
                    (State::Start, Flow::Stop)
                } else {
                    (self.refused(status, now, out), Flow::Stop)
                }
            }
            Input::Failed(failure) => match failure {
                Failure::Status(s) if s.is_expired() || s.is_too_large_resource_version() => {
                    self.rv_unavailable = true;
                    (State::Start, Flow::Stop)
                }
                // Access and existence are the same for lists: report and retry later.
                Failure::Status(s) if matches!(s.code, 401 | 403 | 404 | 429) => {
                    self.fail(Failure::Status(s), out);
                    (self.backoff_then(State::Start), Flow::Stop)
                }
                // Any other answer of the server to the request itself: it does not stream lists.
                Failure::Status(s) => (self.refused(s, now, out), Flow::Stop),
                // The connection broke: try again (a cut in the middle of the initial events loses
                // nothing: the next stream starts a new list).
                other => {
                    self.fail(other, out);
                    (self.backoff_then(State::Start), Flow::Stop)
                }
            },
            Input::Ended | Input::EndedEarly => {
                // Closed at once with nothing: as a failure, not in a tight loop.
                let next = if received == 0 { self.backoff_then(State::Start) } else { State::Start };
                (next, Flow::Stop)
            }
        }
    }

    /// The server refused a streaming list: list instead, and remember the refusal for a while.
    /// (client-go falls back on any error of the streaming attempt; it does not remember.)
    fn refused(&mut self, status: Status, now: Instant, out: &mut Vec<Output>) -> State {
        if self.refused_at.is_none() {
            out.push(Output::Note(Note::StreamingRefused(status)));
        }
        self.refused_at = Some(now);
        State::Listing { asked: self.relist_resource_version(), continue_token: None, began: false, received: 0 }
    }

    fn on_listing(
        &mut self,
        asked: String,
        continue_token: Option<String>,
        mut began: bool,
        mut received: usize,
        input: Input,
        out: &mut Vec<Output>,
    ) -> (State, Flow) {
        match input {
            Input::Object(item) | Input::Modified(item) => {
                if !began {
                    out.push(Output::Store(StoreEvent::BeginRelist));
                    began = true;
                }
                received += 1;
                if let Some(r) = item.rendered {
                    out.push(Output::Store(StoreEvent::Insert(item.key, r)));
                }
                (State::Listing { asked, continue_token, began, received }, Flow::Continue)
            }
            Input::ListEnd { resource_version, continue_token: Some(next) } if !next.is_empty() => {
                if !began {
                    out.push(Output::Store(StoreEvent::BeginRelist));
                    began = true;
                }
                let _ = resource_version;
                (State::Listing { asked, continue_token: Some(next), began, received }, Flow::Stop)
            }
            Input::ListEnd { resource_version, .. } => {
                if !began {
                    out.push(Output::Store(StoreEvent::BeginRelist));
                }
                let how = match asked.as_str() {
                    "0" => Listed::Cached,
                    "" => Listed::Consistent,
                    _ => Listed::NotOlderThan,
                };
                self.complete(resource_version, received, how, out);
                (State::Watching { started: None, events: 0, verify: false }, Flow::Stop)
            }
            Input::Failed(Failure::Status(s)) if s.is_expired() || s.is_too_large_resource_version() => {
                // client-go's list: a version (or continue token) the server no longer has, or does not
                // have yet, is retried at once as a consistent read.
                let _ = (asked, continue_token);
                self.rv_unavailable = true;
                let asked = self.relist_resource_version();
                (State::Listing { asked, continue_token: None, began: false, received: 0 }, Flow::Stop)
            }
            Input::Failed(failure) => {
                self.fail(failure, out);
                (self.backoff_then(State::Start), Flow::Stop)
            }
            Input::Ended | Input::EndedEarly => {
                self.fail(Failure::Undecodable("the list ended before its end".into()), out);
                (self.backoff_then(State::Start), Flow::Stop)
            }
            Input::Deleted { .. }
            | Input::Bookmark { .. }
            | Input::ErrorEvent(_)
            | Input::Probed(_)
            | Input::Waited => (State::Listing { asked, continue_token, began, received }, Flow::Continue),
        }
    }

    fn on_watching(
        &mut self,
        started: Option<Instant>,
        mut events: usize,
        verify: bool,
        input: Input,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> (State, Flow) {
        let watching = |events| State::Watching { started, events, verify: false };
        match input {
            Input::Object(item) | Input::Modified(item) => {
                if self.went_back(&item.resource_version, out) {
                    return (self.history_went_back(), Flow::Stop);
                }
                self.last_sync = item.resource_version;
                events += 1;
                self.succeeded(out);
                out.push(Output::Store(match item.rendered {
                    Some(r) => StoreEvent::Upsert(item.key, r),
                    None => StoreEvent::Remove(item.key),
                }));
                (watching(events), Flow::Continue)
            }
            Input::Deleted { key, resource_version } => {
                if self.went_back(&resource_version, out) {
                    return (self.history_went_back(), Flow::Stop);
                }
                self.last_sync = resource_version;
                events += 1;
                self.succeeded(out);
                out.push(Output::Store(StoreEvent::Remove(key)));
                (watching(events), Flow::Continue)
            }
            Input::Bookmark { resource_version, .. } => {
                if self.went_back(&resource_version, out) {
                    return (self.history_went_back(), Flow::Stop);
                }
                self.last_sync = resource_version;
                (watching(events), Flow::Continue)
            }
            Input::Probed(Some(rv)) => {
                if self.went_back(&rv, out) {
                    return (self.history_went_back(), Flow::Stop);
                }
                (watching(events), if verify { Flow::Stop } else { Flow::Continue })
            }
            // Could not ask: still unreachable, most likely; wait and ask again before watching.
            Input::Probed(None) if verify => {
                (self.backoff_then(State::Watching { started, events, verify: true }), Flow::Stop)
            }
            Input::Probed(None) | Input::ListEnd { .. } | Input::Waited => {
                (State::Watching { started, events, verify }, Flow::Continue)
            }
            Input::ErrorEvent(status) => {
                if status.is_expired() {
                    // client-go: an expired watch relists at the last version (a list at a version returns
                    // data at least that new), without marking it unavailable.
                    out.push(Output::Note(Note::Relisting("the watch's resourceVersion expired")));
                    (State::Start, Flow::Stop)
                } else if status.is_too_large_resource_version() {
                    self.rv_unavailable = true;
                    (State::Start, Flow::Stop)
                } else {
                    self.fail(Failure::Status(status), out);
                    (self.backoff_then(State::Start), Flow::Stop)
                }
            }
            Input::Failed(failure) => {
                if failure.status().is_some_and(Status::is_expired) {
                    out.push(Output::Note(Note::Relisting("the watch's resourceVersion expired")));
                    return (State::Start, Flow::Stop);
                }
                let retriable = failure.watch_retriable();
                let broke = matches!(failure, Failure::Unreachable(_));
                self.fail(failure, out);
                // client-go: a refused connection or a 429 retries the watch after a backoff; anything
                // else starts over with a list. After a broken connection, the server is checked first.
                let then = if retriable { State::Watching { started, events: 0, verify: broke } } else { State::Start };
                (self.backoff_then(then), Flow::Stop)
            }
            Input::Ended | Input::EndedEarly => {
                // A watch that ends at its timeout resumes where it left off; one the server ended early
                // first checks the server has not gone back. One that ends at once with nothing
                // (client-go's "very short watch") waits first.
                let verify = matches!(input, Input::EndedEarly);
                let next = State::Watching { started, events: 0, verify };
                let short = started.is_none_or(|s| now.saturating_duration_since(s) < Duration::from_secs(1));
                if short && events == 0 { (self.backoff_then(next), Flow::Stop) } else { (next, Flow::Stop) }
            }
        }
    }

    fn history_went_back(&mut self) -> State {
        // Nothing we hold can be trusted to continue from: list the newest state, as if fresh; that
        // list is the new baseline.
        self.rv_unavailable = true;
        self.last_sync.clear();
        self.highest = None;
        State::Start
    }
}

fn unreachable_start() -> Request {
    // `request` resolves Start before matching; keep the match total without panicking.
    Request::Wait(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backoff of fixed steps, so tests see exact delays.
    struct Steps(u32);
    impl Iterator for Steps {
        type Item = Duration;
        fn next(&mut self) -> Option<Duration> {
            self.0 += 1;
            Some(Duration::from_secs(u64::from(self.0)))
        }
    }
    impl Backoff for Steps {
        fn reset(&mut self) {
            self.0 = 0;
        }
    }

    fn watcher(config: Config) -> Watcher {
        Watcher::new(config, Box::new(Steps(0)))
    }

    fn key(n: &str) -> ObjectKey {
        ObjectKey::new("ns", n, n)
    }

    fn item(n: &str, rv: &str) -> Item {
        let r = Rendered::of_text([format!("m{{o=\"{n}\"}} 1\n")]);
        Item { key: key(n), resource_version: rv.into(), rendered: Some(r) }
    }

    fn status(code: u16, reason: &str, message: &str) -> Status {
        Status { code, reason: reason.into(), message: message.into(), ..Status::default() }
    }

    /// The store events and notes of `out`, in a compact form.
    fn summary(out: &[Output]) -> Vec<String> {
        out.iter()
            .map(|o| match o {
                Output::Store(StoreEvent::BeginRelist) => "begin".into(),
                Output::Store(StoreEvent::Insert(k, _)) => format!("insert {}", k.name()),
                Output::Store(StoreEvent::EndRelist) => "end".into(),
                Output::Store(StoreEvent::Upsert(k, _)) => format!("upsert {}", k.name()),
                Output::Store(StoreEvent::Remove(k)) => format!("remove {}", k.name()),
                Output::Store(StoreEvent::Failing(e)) => format!("failing {e:?}"),
                Output::Store(StoreEvent::Reset) => "reset".into(),
                Output::Note(n) => format!("note {n:?}"),
            })
            .collect()
    }

    struct Run {
        w: Watcher,
        now: Instant,
        out: Vec<Output>,
    }

    impl Run {
        fn new(config: Config) -> Self {
            Run { w: watcher(config), now: Instant::now(), out: Vec::new() }
        }
        fn req(&mut self) -> Request {
            self.w.request(self.now)
        }
        fn feed(&mut self, input: Input) -> Flow {
            self.w.on(input, self.now, &mut self.out)
        }
        fn take(&mut self) -> Vec<String> {
            summary(&std::mem::take(&mut self.out))
        }
        fn later(&mut self, d: Duration) {
            self.now += d;
        }
        /// A successful streaming list of `names` at `rv`.
        fn stream(&mut self, names: &[&str], rv: &str) {
            assert!(matches!(self.req(), Request::StreamingList { .. }));
            for n in names {
                assert_eq!(self.feed(Input::Object(item(n, "1"))), Flow::Continue);
            }
            assert_eq!(
                self.feed(Input::Bookmark { resource_version: rv.into(), initial_events_end: true }),
                Flow::Continue
            );
        }
    }

    fn streaming() -> Request {
        Request::StreamingList { resource_version: String::new() }
    }

    #[test]
    fn a_streaming_list_becomes_the_watch_at_its_bookmark() {
        let mut r = Run::new(Config::default());
        assert_eq!(r.req(), streaming());
        r.feed(Input::Object(item("a", "5")));
        r.feed(Input::Bookmark { resource_version: "7".into(), initial_events_end: false });
        r.feed(Input::Object(item("b", "6")));
        assert_eq!(r.take(), ["begin", "insert a", "insert b"]);
        assert_eq!(r.feed(Input::Bookmark { resource_version: "9".into(), initial_events_end: true }), Flow::Continue);
        assert_eq!(r.take(), ["end", "note Listed { objects: 2, how: Streamed }"]);
        assert!(r.w.watching());
        assert_eq!(r.w.last_sync(), "9");
        // Events on the same response are watch events.
        r.feed(Input::Modified(item("a", "10")));
        r.feed(Input::Deleted { key: key("b"), resource_version: "11".into() });
        assert_eq!(r.take(), ["upsert a", "remove b"]);
        // The server closes at its timeout: resume from the last version seen.
        r.later(Duration::from_secs(300));
        assert_eq!(r.feed(Input::Ended), Flow::Stop);
        assert_eq!(r.req(), Request::Watch { resource_version: "11".into() });
    }

    #[test]
    fn a_refused_streaming_list_falls_back_to_a_cached_list_and_is_remembered() {
        let mut r = Run::new(Config::default());
        assert_eq!(r.req(), streaming());
        let refusal = status(500, "InternalError", "the required storage feature RequestWatchProgress is disabled");
        assert_eq!(r.feed(Input::ErrorEvent(refusal.clone())), Flow::Stop);
        assert_eq!(r.take(), [format!("note {:?}", Note::StreamingRefused(refusal))]);
        // client-go's first list reads the watch cache, in pages of 500 (which the cache ignores).
        assert_eq!(r.req(), Request::List { resource_version: "0".into(), limit: Some(500), continue_token: None });
        r.feed(Input::Object(item("a", "3")));
        r.feed(Input::ListEnd { resource_version: "40".into(), continue_token: None });
        assert_eq!(r.take(), ["begin", "insert a", "end", "note Listed { objects: 1, how: Cached }"]);
        assert_eq!(r.req(), Request::Watch { resource_version: "40".into() });
        // The watch expires: relist, without trying a stream again, at the last version (not paginated).
        r.feed(Input::ErrorEvent(status(410, "Expired", "too old resource version: 40 (50)")));
        assert_eq!(r.take(), ["note Relisting(\"the watch's resourceVersion expired\")"]);
        assert_eq!(r.req(), Request::List { resource_version: "40".into(), limit: None, continue_token: None });
        // That version is gone too: a consistent read, paginated.
        r.feed(Input::Failed(Failure::Status(status(
            410,
            "Expired",
            "The resourceVersion for the provided list is too old.",
        ))));
        assert_eq!(r.req(), Request::List { resource_version: "".into(), limit: Some(500), continue_token: None });
        r.feed(Input::Object(item("a", "3")));
        r.feed(Input::ListEnd { resource_version: "60".into(), continue_token: Some("c1".into()) });
        assert_eq!(
            r.req(),
            Request::List { resource_version: "".into(), limit: Some(500), continue_token: Some("c1".into()) }
        );
        r.feed(Input::Object(item("b", "4")));
        r.feed(Input::ListEnd { resource_version: "60".into(), continue_token: None });
        assert_eq!(r.take(), ["begin", "insert a", "insert b", "end", "note Listed { objects: 2, how: Consistent }"]);
        // An hour later the server may have been upgraded: a stream is tried again.
        r.feed(Input::ErrorEvent(status(410, "Expired", "gone")));
        r.later(Duration::from_secs(3601));
        assert_eq!(r.req(), Request::StreamingList { resource_version: "60".into() });
    }

    #[test]
    fn a_request_the_server_rejects_outright_also_counts_as_refusal_but_access_errors_do_not() {
        let mut r = Run::new(Config::default());
        r.req();
        r.feed(Input::Failed(Failure::Status(status(422, "Invalid", "sendInitialEvents is forbidden"))));
        assert!(matches!(r.req(), Request::List { .. }));

        let mut r = Run::new(Config::default());
        r.req();
        r.feed(Input::Failed(Failure::Status(status(403, "Forbidden", "pods is forbidden"))));
        let forbidden = Failure::Status(status(403, "Forbidden", "pods is forbidden"));
        assert_eq!(
            r.take(),
            [
                "failing Some(\"forbidden: HTTP 403 Forbidden: pods is forbidden\")".to_owned(),
                format!("note {:?}", Note::Failing(forbidden))
            ]
        );
        assert_eq!(r.req(), Request::Wait(Duration::from_secs(1)));
        r.feed(Input::Waited);
        assert_eq!(r.req(), streaming());
        // The same failure again is not news; recovery is.
        r.feed(Input::Failed(Failure::Status(status(403, "Forbidden", "pods is forbidden"))));
        assert_eq!(r.take(), Vec::<String>::new());
        assert_eq!(r.req(), Request::Wait(Duration::from_secs(2)));
        r.feed(Input::Waited);
        r.stream(&["a"], "5");
        assert_eq!(
            r.take(),
            ["begin", "insert a", "end", "note Listed { objects: 1, how: Streamed }", "failing None", "note Recovered"]
        );
    }

    #[test]
    fn use_apiserver_cache_lists_from_the_cache_every_time() {
        let mut r = Run::new(Config { streaming: false, use_cache: true, ..Config::default() });
        let cached = Request::List { resource_version: "0".into(), limit: Some(500), continue_token: None };
        assert_eq!(r.req(), cached);
        r.feed(Input::ListEnd { resource_version: "8".into(), continue_token: None });
        r.req();
        r.feed(Input::ErrorEvent(status(410, "Expired", "too old")));
        assert_eq!(r.req(), cached);
    }

    #[test]
    fn a_watch_event_below_what_was_seen_means_history_went_back() {
        let mut r = Run::new(Config::default());
        r.stream(&["a", "b"], "100");
        r.take();
        r.feed(Input::Modified(item("a", "120")));
        // A server restored from an older etcd snapshot (or another cluster) answers at 30.
        assert_eq!(r.feed(Input::Bookmark { resource_version: "30".into(), initial_events_end: false }), Flow::Stop);
        assert_eq!(
            r.take(),
            ["upsert a".to_owned(), format!("note {:?}", Note::HistoryWentBack { seen: 120, now: 30 })]
        );
        // The newest state, as a fresh instance would get it; the lower version is the new baseline.
        assert_eq!(r.req(), streaming());
        r.feed(Input::Object(item("c", "20")));
        r.feed(Input::Bookmark { resource_version: "31".into(), initial_events_end: true });
        assert_eq!(r.take(), ["begin", "insert c", "end", "note Listed { objects: 1, how: Streamed }"]);
        r.feed(Input::Modified(item("c", "32")));
        assert_eq!(r.take(), ["upsert c"]);
    }

    #[test]
    fn a_relist_below_what_was_seen_is_noted_once() {
        let mut r = Run::new(Config::default());
        r.stream(&["a"], "100");
        r.take();
        // The watch expires; the relist comes back lower (the server was restored meanwhile).
        r.feed(Input::ErrorEvent(status(410, "Expired", "too old")));
        r.req();
        r.feed(Input::Object(item("a", "5")));
        r.feed(Input::Bookmark { resource_version: "60".into(), initial_events_end: true });
        assert_eq!(
            r.take(),
            [
                "note Relisting(\"the watch's resourceVersion expired\")".to_owned(),
                "begin".into(),
                "insert a".into(),
                format!("note {:?}", Note::HistoryWentBack { seen: 100, now: 60 }),
                "end".into(),
                "note Listed { objects: 1, how: Streamed }".into()
            ]
        );
        r.feed(Input::Modified(item("a", "61")));
        assert_eq!(r.take(), ["upsert a"]);
    }

    #[test]
    fn a_silent_watch_is_checked_against_the_servers_current_version() {
        let mut r = Run::new(Config::default());
        r.stream(&["a"], "500");
        r.take();
        // The server is ahead (a quiet resource): nothing to do.
        assert_eq!(r.feed(Input::Probed(Some("900".into()))), Flow::Continue);
        assert_eq!(r.feed(Input::Probed(None)), Flow::Continue);
        // Another cluster now answers, at 40: a watch from 500 would stay silent for ever.
        assert_eq!(r.feed(Input::Probed(Some("40".into()))), Flow::Stop);
        assert_eq!(r.take(), [format!("note {:?}", Note::HistoryWentBack { seen: 900, now: 40 })]);
        assert_eq!(r.req(), streaming());
    }

    #[test]
    fn a_server_restored_to_an_older_state_is_noticed_when_the_watch_reconnects() {
        let mut r = Run::new(Config::default());
        r.stream(&["a"], "500");
        r.take();
        r.feed(Input::Failed(Failure::Unreachable("connection reset by peer".into())));
        r.req();
        r.feed(Input::Waited);
        assert_eq!(r.req(), Request::Probe);
        assert_eq!(r.feed(Input::Probed(Some("120".into()))), Flow::Stop);
        assert!(r.take().contains(&format!("note {:?}", Note::HistoryWentBack { seen: 500, now: 120 })));
        assert_eq!(r.req(), streaming());
    }

    #[test]
    fn a_watch_the_server_ends_early_is_resumed_after_checking_the_server() {
        let mut r = Run::new(Config::default());
        r.stream(&["a"], "500");
        r.take();
        r.later(Duration::from_secs(30));
        assert_eq!(r.feed(Input::EndedEarly), Flow::Stop);
        assert_eq!(r.req(), Request::Probe);
        r.feed(Input::Probed(Some("40".into())));
        assert!(r.take().contains(&format!("note {:?}", Note::HistoryWentBack { seen: 500, now: 40 })));
        assert_eq!(r.req(), streaming());
    }

    #[test]
    fn a_cut_in_the_middle_of_the_initial_events_starts_a_new_list() {
        let mut r = Run::new(Config::default());
        r.req();
        r.feed(Input::Object(item("a", "1")));
        r.feed(Input::Failed(Failure::Unreachable("connection reset".into())));
        let reset = Failure::Unreachable("connection reset".into());
        assert_eq!(
            r.take(),
            [
                "begin".to_owned(),
                "insert a".into(),
                "failing Some(\"unreachable: connection reset\")".into(),
                format!("note {:?}", Note::Failing(reset))
            ]
        );
        assert_eq!(r.req(), Request::Wait(Duration::from_secs(1)));
        r.feed(Input::Waited);
        // The new stream begins a new set, which drops the partial one.
        r.stream(&["a", "b"], "9");
        assert_eq!(r.take()[..3], ["begin", "insert a", "insert b"]);
        // A stream that ends cleanly before its bookmark is simply retried.
        let mut r = Run::new(Config::default());
        r.req();
        r.feed(Input::Object(item("a", "1")));
        r.feed(Input::Ended);
        assert_eq!(r.req(), streaming());
    }

    #[test]
    fn a_stream_at_a_version_the_server_lacks_restarts_from_the_newest() {
        let mut r = Run::new(Config::default());
        r.stream(&["a"], "50");
        r.feed(Input::ErrorEvent(status(410, "Expired", "too old resource version: 50 (60)")));
        assert_eq!(r.req(), Request::StreamingList { resource_version: "50".into() });
        r.feed(Input::ErrorEvent(status(410, "Expired", "too old resource version: 50 (60)")));
        assert_eq!(r.req(), streaming());
    }

    #[test]
    fn watch_failures_retry_the_watch_or_relist_as_client_go_does() {
        let mut r = Run::new(Config::default());
        r.stream(&["a"], "50");
        r.take();
        r.feed(Input::Failed(Failure::Unreachable("connection refused".into())));
        assert_eq!(r.req(), Request::Wait(Duration::from_secs(1)));
        r.feed(Input::Waited);
        // The connection broke: first make sure the server is not behind what was seen.
        assert_eq!(r.req(), Request::Probe);
        r.feed(Input::Probed(None));
        assert_eq!(r.req(), Request::Wait(Duration::from_secs(2)));
        r.feed(Input::Waited);
        assert_eq!(r.req(), Request::Probe);
        r.feed(Input::Probed(Some("55".into())));
        assert_eq!(r.req(), Request::Watch { resource_version: "50".into() });
        r.feed(Input::Failed(Failure::Status(status(500, "InternalError", "boom"))));
        assert_eq!(r.req(), Request::Wait(Duration::from_secs(3)));
        r.feed(Input::Waited);
        assert_eq!(r.req(), Request::StreamingList { resource_version: "50".into() });
        // A watch that ends at once with nothing waits before the next one.
        let mut r = Run::new(Config::default());
        r.stream(&["a"], "50");
        r.feed(Input::Ended);
        r.req();
        r.feed(Input::Ended);
        assert!(matches!(r.req(), Request::Wait(_)));
    }

    #[test]
    fn objects_that_cannot_be_rendered_are_left_out_of_lists_and_removed_by_events() {
        let mut r = Run::new(Config { streaming: false, ..Config::default() });
        r.req();
        r.feed(Input::Object(Item { key: key("bad"), resource_version: "1".into(), rendered: None }));
        r.feed(Input::Object(item("a", "1")));
        r.feed(Input::ListEnd { resource_version: "5".into(), continue_token: None });
        assert_eq!(r.take(), ["begin", "insert a", "end", "note Listed { objects: 2, how: Cached }"]);
        r.req();
        r.feed(Input::Modified(Item { key: key("a"), resource_version: "6".into(), rendered: None }));
        assert_eq!(r.take(), ["remove a"]);
    }
}
