//! Where a sharded instance's objects are divided (`--shard-mode`): by the API server (KEP-5866
//! `shardSelector`, each shard receives only its own objects) or here (every shard receives everything
//! and keeps its own, as upstream does).
//!
//! Detection. A list the server filtered carries `metadata.shardInfo.selector` (protobuf: ListMeta field
//! 5) echoing the selector; a server without the `ShardedListAndWatch` gate, or older than v1.36,
//! ignores the parameter and answers the whole collection without it. The first request of every
//! list/watch is a streaming list, whose answer has no list metadata, and on a real v1.36 server neither
//! its events nor its bookmarks say anything about shards (the captures `configmaps.watchlist-shard0.*`
//! and `configmaps.watch-shard0.*`: bookmarks are not even filtered), so a streaming list cannot tell a
//! filtering server from one that ignored the parameter. Hence a probe before anything is listed: one
//! `limit=1` JSON list carrying the selector, on the first collection that answers it.
//!
//! The decision holds for the whole process, and with auto-sharding until the StatefulSet's generation
//! changes, so that every shard of a deployment decides at the same moments (see docs/sharding.md).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::ingest::Transport;
use crate::ingest::driver::one_item_list;
use crate::ingest::json::ListMeta;
use crate::ingest::wire::{Failure, Scope};
use crate::scrape::Served;
use crate::shard::{Shard, Split};
use crate::telemetry::Telemetry;
use crate::textstore::{StoreEvent, Writer};

/// `--shard-mode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShardMode {
    /// By the API server when it can (v1.36+, feature gate ShardedListAndWatch: each shard receives
    /// only its own objects), else here.
    #[default]
    Auto,
    /// Only by the API server; where it cannot, serve nothing and say why in /readyz.
    Server,
    /// Always here, as upstream kube-state-metrics (never send a shard selector).
    Client,
}

/// What one probe's answer says about the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `shardInfo` echoes the selector: the server filtered.
    Honoured,
    /// A whole list: no `shardInfo`, or one echoing another selector.
    Ignored(String),
    /// The server rejected the request over its selector (v1.36 answers 500 with a reasonless Status
    /// whose message starts `invalid shard selector`; a later one may answer 400).
    Refused(String),
    /// This collection cannot tell (forbidden, not served): ask another.
    Elsewhere(String),
    /// An error status that does not mention the selector: perhaps a passing fault.
    ServerError(String),
    /// No answer at all.
    Unreachable(String),
}

/// What a probe answer amounts to, given the mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Use(Split),
    /// Auto mode: the server cannot shard, so shard here; `reason` is the telemetry label.
    Fallback {
        reason: &'static str,
        detail: String,
    },
    /// Server mode: the server cannot shard; nothing is served until it can.
    Blocked(String),
    /// Ask again later.
    Retry(String),
}

/// Server errors in a row after which a server that never answers a sharded list is taken to refuse it.
pub const SERVER_ERRORS_MEAN_REFUSED: u32 = 3;

/// Classifies the answer to a one-item list asked with `sent` as its selector.
pub fn answer(result: Result<ListMeta, Failure>, sent: &str) -> Answer {
    // The server echoes the selector as sent; compare without blanks all the same.
    let bare = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    match result {
        Ok(meta) => match meta.shard_selector() {
            Some(echo) if bare(echo) == bare(sent) => Answer::Honoured,
            Some(echo) => Answer::Ignored(format!("the list echoed another shard selector ({echo})")),
            None => Answer::Ignored("the list came back whole, without shardInfo".into()),
        },
        Err(Failure::Status(s)) => match s.code {
            401 | 403 | 404 => Answer::Elsewhere(s.to_string()),
            400 | 422 => Answer::Refused(s.to_string()),
            _ if s.message.contains("shard selector") => Answer::Refused(s.to_string()),
            _ => Answer::ServerError(s.to_string()),
        },
        Err(f @ Failure::Undecodable(_)) => Answer::ServerError(f.to_string()),
        Err(f @ Failure::Unreachable(_)) => Answer::Unreachable(f.to_string()),
    }
}

/// What `answer` means in `mode`, the `server_errors`-th server error in a row counted in.
pub fn decide(mode: ShardMode, answer: Answer, server_errors: u32) -> Decision {
    let cannot = |reason: &'static str, detail: String| match mode {
        ShardMode::Server => Decision::Blocked(detail),
        ShardMode::Auto | ShardMode::Client => Decision::Fallback { reason, detail },
    };
    match answer {
        Answer::Honoured => Decision::Use(Split::Range),
        Answer::Ignored(d) => cannot("ignored", d),
        Answer::Refused(d) => cannot("refused", d),
        Answer::ServerError(d) if server_errors >= SERVER_ERRORS_MEAN_REFUSED => cannot("refused", d),
        Answer::ServerError(d) | Answer::Elsewhere(d) | Answer::Unreachable(d) => Decision::Retry(d),
    }
}

/// The outcome of [`Settler::settle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    Use(Shard),
    /// Server mode and a server that cannot shard: why.
    Blocked(String),
}

/// How long a blocked server-mode instance waits before asking the server again.
/// (One list of one object: nothing for the server.)
pub const BLOCKED_RECHECK: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Decides the split of each assignment, with one probe where one is needed.
pub struct Settler<T: Transport> {
    pub mode: ShardMode,
    pub transport: Arc<T>,
    /// Collections any of which can answer a probe (one per enabled resource), in order.
    pub probes: Vec<Scope>,
    pub telemetry: Arc<Telemetry>,
    /// The API server's URL, for log lines.
    pub server: String,
    /// What was last decided, so that a repeated decision is not logged again.
    last: Option<Settled>,
}

impl<T: Transport> Settler<T> {
    pub fn new(
        mode: ShardMode,
        transport: Arc<T>,
        probes: Vec<Scope>,
        telemetry: Arc<Telemetry>,
        server: String,
    ) -> Self {
        Settler { mode, transport, probes, telemetry, server, last: None }
    }

    /// The split of `assigned`: at once with one shard or in client mode, else after a probe (asked
    /// again with a growing pause while no collection gives an answer). `served`'s stores that no
    /// list/watch writes meanwhile name the wait in /readyz.
    pub async fn settle(&mut self, assigned: Shard, served: &[Served]) -> Settled {
        if !assigned.sharded() || self.mode == ShardMode::Client {
            let shard = assigned.with_split(Split::Jump);
            self.telemetry.set_split(assigned.sharded().then_some(Split::Jump));
            return self.conclude(Settled::Use(shard));
        }
        let Some(selector) = assigned.with_split(Split::Range).selector() else {
            return self.conclude(Settled::Use(assigned.with_split(Split::Jump)));
        };
        let mut server_errors = 0;
        let mut pause = Duration::from_secs(1);
        let mut waiting = false;
        loop {
            let answer = self.probe(&selector).await;
            server_errors = if matches!(answer, Answer::ServerError(_)) { server_errors + 1 } else { 0 };
            match decide(self.mode, answer, server_errors) {
                Decision::Use(split) => {
                    self.telemetry.set_split(Some(split));
                    if self.last != Some(Settled::Use(assigned.with_split(split))) {
                        tracing::info!(
                            server = %self.server,
                            shard = assigned.index,
                            total = assigned.total,
                            range = %selector,
                            "the API server shards lists and watches: this shard receives only its own objects"
                        );
                    }
                    return self.conclude(Settled::Use(assigned.with_split(split)));
                }
                Decision::Fallback { reason, detail } => {
                    self.telemetry.record_split_fallback(reason);
                    self.telemetry.set_split(Some(Split::Jump));
                    let shard = assigned.with_split(Split::Jump);
                    if !matches!(self.last, Some(Settled::Use(s)) if s.split == Split::Jump) {
                        tracing::warn!(
                            server = %self.server,
                            answer = %detail,
                            "the API server does not shard lists (feature gate ShardedListAndWatch off, or a \
                             server before v1.36); sharding on this side instead: every shard receives every \
                             object (--shard-mode=auto)"
                        );
                    }
                    return self.conclude(Settled::Use(shard));
                }
                Decision::Blocked(why) => {
                    self.telemetry.set_split(None);
                    let why = format!(
                        "--shard-mode=server, but the API server does not shard lists \
                         (needs v1.36+ with the ShardedListAndWatch feature gate): {why}"
                    );
                    if self.last != Some(Settled::Blocked(why.clone())) {
                        tracing::error!(
                            server = %self.server,
                            "{why}; serving no objects, asking again every {} s",
                            BLOCKED_RECHECK.as_secs()
                        );
                    }
                    return self.conclude(Settled::Blocked(why));
                }
                Decision::Retry(why) => {
                    if !waiting {
                        tracing::warn!(
                            server = %self.server,
                            error = %why,
                            "cannot tell yet whether the API server shards lists; asking again with backoff \
                             before listing anything"
                        );
                        waiting = true;
                    }
                    mark(served, Some(&format!("sharding: cannot tell whether the API server shards lists: {why}")));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
    }

    fn conclude(&mut self, s: Settled) -> Settled {
        self.last = Some(s.clone());
        s
    }

    /// One round: the collections in order until one can tell.
    async fn probe(&self, selector: &str) -> Answer {
        let mut last = Answer::Unreachable("no collection to ask".into());
        let bytes = AtomicU64::new(0);
        for scope in &self.probes {
            let scope = Scope { shard_selector: selector.to_owned(), ..scope.clone() };
            let meta = one_item_list(self.transport.as_ref(), scope.uri(&[("limit", "1")]), &bytes).await;
            last = answer(meta, selector);
            if !matches!(last, Answer::Elsewhere(_)) {
                break;
            }
        }
        last
    }
}

/// Records (or with `None` clears) why the stores of `served` wait, where no list/watch holds them.
pub fn mark(served: &[Served], why: Option<&str>) {
    for s in served {
        for part in 0..s.store.part_count() {
            if let Some(mut w) = s.store.reclaim(part) {
                w.apply(StoreEvent::Failing(why.map(str::to_owned)));
            }
        }
    }
}

/// Server mode without a server that shards: nothing is served, and /readyz says why. Every store must
/// be free (its list/watches stopped).
pub fn block(served: &[Served], why: &str) {
    for s in served {
        for part in 0..s.store.part_count() {
            if let Some(mut w) = s.store.reclaim(part) {
                block_writer(&mut w, why);
            }
        }
    }
}

/// One store part of a blocked instance: emptied, and failing with `why` for /readyz.
pub fn block_writer(w: &mut Writer, why: &str) {
    w.apply(StoreEvent::Reset);
    w.apply(StoreEvent::Failing(Some(format!("sharding: {why}"))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::json::ShardInfo;
    use crate::ingest::wire::Status;

    const SENT: &str = "shardRange(object.metadata.uid,'0x0000000000000000','0x8000000000000000')";

    fn list(echo: Option<&str>) -> Result<ListMeta, Failure> {
        Ok(ListMeta {
            resource_version: "405".into(),
            shard_info: echo.map(|s| ShardInfo { selector: s.into() }),
            ..ListMeta::default()
        })
    }

    fn status(code: u16, reason: &str, message: &str) -> Result<ListMeta, Failure> {
        Err(Failure::Status(Status { code, reason: reason.into(), message: message.into(), ..Status::default() }))
    }

    #[test]
    fn answers_of_a_real_server() {
        // The real server echoes the selector as sent; its own captures put blanks after the commas.
        assert_eq!(answer(list(Some(SENT)), SENT), Answer::Honoured);
        let spaced = "shardRange(object.metadata.uid, '0x0000000000000000', '0x8000000000000000')";
        assert_eq!(answer(list(Some(spaced)), SENT), Answer::Honoured);
        assert!(matches!(answer(list(None), SENT), Answer::Ignored(_)));
        let other = "shardRange(object.metadata.uid,'0x8000000000000000','0x10000000000000000')";
        assert!(matches!(answer(list(Some(other)), SENT), Answer::Ignored(_)));
        // v1.36.2: 500, no reason, the message names the selector (error-500-shard-bad-hex.json).
        let refused =
            status(500, "", "invalid shard selector: hexStart: invalid hex character \"z\" in \"0x00000000000000zz\"");
        assert!(matches!(answer(refused, SENT), Answer::Refused(m) if m.contains("invalid shard selector")));
        assert!(matches!(answer(status(400, "BadRequest", "bad"), SENT), Answer::Refused(_)));
        assert!(matches!(answer(status(403, "Forbidden", "pods is forbidden"), SENT), Answer::Elsewhere(_)));
        assert!(matches!(answer(status(404, "NotFound", "x"), SENT), Answer::Elsewhere(_)));
        assert!(matches!(answer(status(503, "ServiceUnavailable", "etcd"), SENT), Answer::ServerError(_)));
        let down = Err(Failure::Unreachable("connection refused".into()));
        assert!(matches!(answer(down, SENT), Answer::Unreachable(_)));
    }

    /// Answers every probe with the next of `answers` (the last one repeats); records the URIs.
    struct Canned {
        answers: std::sync::Mutex<Vec<Result<&'static str, Failure>>>,
        asked: std::sync::Mutex<Vec<String>>,
    }

    impl Transport for Canned {
        fn get(
            &self,
            uri: String,
            _accept: &'static str,
        ) -> futures::future::BoxFuture<'static, Result<crate::ingest::driver::Response, Failure>> {
            use futures::StreamExt as _;
            self.asked.lock().unwrap().push(uri);
            let mut a = self.answers.lock().unwrap();
            let next = if a.len() > 1 { a.remove(0) } else { a[0].clone() };
            Box::pin(async move {
                let text = next?;
                let body = futures::stream::iter([Ok(bytes::Bytes::from_static(text.as_bytes()))]).boxed();
                Ok(crate::ingest::driver::Response { protobuf: false, body })
            })
        }
    }

    fn settler(mode: ShardMode, answers: Vec<Result<&'static str, Failure>>) -> (Settler<Canned>, Arc<Canned>) {
        let t = Arc::new(Canned { answers: answers.into(), asked: Default::default() });
        let probes = ["/api/v1/secrets", "/api/v1/pods"].map(|p| Scope { path: p.into(), ..Scope::default() }).to_vec();
        (Settler::new(mode, t.clone(), probes, Arc::new(Telemetry::new(0, 1)), "https://test".into()), t)
    }

    const ECHO: &str = r#"{"metadata":{"resourceVersion":"5","shardInfo":{"selector":"shardRange(object.metadata.uid,'0x5555555555555555','0xaaaaaaaaaaaaaaaa')"}},"items":[]}"#;
    const WHOLE: &str = r#"{"metadata":{"resourceVersion":"5"},"items":[]}"#;

    fn forbidden() -> Result<&'static str, Failure> {
        Err(Failure::Status(Status { code: 403, reason: "Forbidden".into(), ..Status::default() }))
    }

    #[tokio::test(start_paused = true)]
    async fn the_probe_asks_the_next_collection_and_the_range_of_the_shard() {
        let (mut s, t) = settler(ShardMode::Auto, vec![forbidden(), Ok(ECHO)]);
        let got = s.settle(Shard::new(1, 3), &[]).await;
        assert_eq!(got, Settled::Use(Shard::new(1, 3).with_split(Split::Range)));
        let asked = t.asked.lock().unwrap().clone();
        let sel =
            "shardSelector=shardRange%28object.metadata.uid%2C%270x5555555555555555%27%2C%270xaaaaaaaaaaaaaaaa%27%29";
        assert_eq!(asked, [format!("/api/v1/secrets?limit=1&{sel}"), format!("/api/v1/pods?limit=1&{sel}")]);
        // One shard, or client mode: nothing to ask.
        let (mut s, t) = settler(ShardMode::Auto, vec![Ok(ECHO)]);
        assert_eq!(s.settle(Shard::new(0, 1), &[]).await, Settled::Use(Shard::new(0, 1)));
        let (mut c, _) = settler(ShardMode::Client, vec![Ok(ECHO)]);
        assert_eq!(c.settle(Shard::new(1, 3), &[]).await, Settled::Use(Shard::new(1, 3)));
        assert!(t.asked.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_whole_list_means_client_side_in_auto_mode_and_blocked_in_server_mode() {
        let (mut s, _) = settler(ShardMode::Auto, vec![Ok(WHOLE)]);
        assert_eq!(s.settle(Shard::new(1, 3), &[]).await, Settled::Use(Shard::new(1, 3)));
        let (mut s, _) = settler(ShardMode::Server, vec![Ok(WHOLE)]);
        assert!(
            matches!(s.settle(Shard::new(1, 3), &[]).await, Settled::Blocked(w) if w.contains("without shardInfo"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn passing_trouble_is_waited_out_and_said_in_readiness() {
        use crate::textstore::{Maintenance, store};
        let (reader, writers) = store(&["f"], 1, &Maintenance::threads());
        drop(writers);
        let headers = Arc::new(crate::scrape::Headers::from_parts(Vec::new()));
        let served = [Served { name: "pods".into(), headers, store: reader.clone() }];
        let down = Err(Failure::Unreachable("connection refused".into()));
        let (mut s, t) = settler(ShardMode::Auto, vec![down.clone(), down, Ok(ECHO)]);
        let task = tokio::spawn(async move { s.settle(Shard::new(1, 3), &served).await });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            reader.errors()[0].contains("cannot tell whether the API server shards lists"),
            "{:?}",
            reader.errors()
        );
        assert_eq!(task.await.unwrap(), Settled::Use(Shard::new(1, 3).with_split(Split::Range)));
        // Unreachable is the server's: one request per round, not one per collection.
        assert_eq!(t.asked.lock().unwrap().len(), 3);
    }

    #[test]
    fn each_mode_decides_as_documented() {
        let ignored = || Answer::Ignored("whole".into());
        let refused = || Answer::Refused("invalid shard selector".into());
        assert_eq!(decide(ShardMode::Auto, Answer::Honoured, 0), Decision::Use(Split::Range));
        assert_eq!(decide(ShardMode::Server, Answer::Honoured, 0), Decision::Use(Split::Range));
        assert_eq!(
            decide(ShardMode::Auto, ignored(), 0),
            Decision::Fallback { reason: "ignored", detail: "whole".into() }
        );
        assert!(matches!(decide(ShardMode::Auto, refused(), 0), Decision::Fallback { reason: "refused", .. }));
        assert_eq!(decide(ShardMode::Server, ignored(), 0), Decision::Blocked("whole".into()));
        assert!(matches!(decide(ShardMode::Server, refused(), 0), Decision::Blocked(_)));
        // Passing trouble is asked again; a server that errs every time is taken to refuse.
        for a in [Answer::Unreachable("down".into()), Answer::Elsewhere("403".into())] {
            assert!(matches!(decide(ShardMode::Auto, a, 0), Decision::Retry(_)));
        }
        let err = || Answer::ServerError("503".into());
        assert!(matches!(decide(ShardMode::Auto, err(), SERVER_ERRORS_MEAN_REFUSED - 1), Decision::Retry(_)));
        assert!(matches!(
            decide(ShardMode::Auto, err(), SERVER_ERRORS_MEAN_REFUSED),
            Decision::Fallback { reason: "refused", .. }
        ));
        assert!(matches!(decide(ShardMode::Server, err(), SERVER_ERRORS_MEAN_REFUSED), Decision::Blocked(_)));
    }
}
