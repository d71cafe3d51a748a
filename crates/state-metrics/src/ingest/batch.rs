//! Decoding the pieces of a response (watch events, list items) as pure functions, and a batch of them on
//! two threads at once.
//!
//! A start or relist of a large collection is one long response: 10,000 pods arrive in ~70 ms and took one
//! task ~0.2 s to decode, render and store, while the second core sat idle once the smaller collections
//! were done. Decoding and rendering are pure and two thirds of that work, so the pieces that have arrived
//! together are decoded half here and half on [`crate::pool`], and the results are then fed to the watcher
//! in their order, as one piece at a time would be. Single watch events are decoded right here.

use bytes::Bytes;

use super::json::{BookmarkObject, WatchLine};
use super::machine::Input;
use super::pb;
use super::render::{Decoded, Render, key_of_json};
use super::wire::{Failure, Status};

/// Below this many pieces a batch is decoded on the calling task alone: handing half of a few objects to
/// another thread costs more than it saves.
const PARALLEL_MIN: usize = 16;

/// What one watch event comes to.
#[derive(Debug)]
pub enum Step {
    Feed(Input),
    /// An object whose metadata does not decode: skipped with a log line.
    Garbage(String),
    /// An event of a type this client does not know: skipped.
    Unknown(String),
}

/// `piece`, a part of `chunk` or of a buffer that joined the end of an earlier chunk to it, as its own
/// `Bytes` that can travel to another thread (sharing `chunk`'s memory when it lies within it).
pub fn piece_of(chunk: &Bytes, piece: &[u8]) -> Bytes {
    let inside = chunk.as_ptr_range();
    if inside.contains(&piece.as_ptr()) && piece.as_ptr_range().end <= inside.end {
        chunk.slice_ref(piece)
    } else {
        Bytes::copy_from_slice(piece)
    }
}

/// One JSON watch event (a line).
pub fn json_step<R: Render>(render: &R, line: &[u8]) -> Step {
    let ev: WatchLine = match serde_json::from_slice(line) {
        Ok(e) => e,
        Err(e) => return Step::Feed(Input::Failed(Failure::Undecodable(format!("watch event: {e}")))),
    };
    let raw = ev.object.get().as_bytes();
    match ev.kind.as_ref() {
        "ADDED" | "MODIFIED" => object_step(render.json(raw), ev.kind == "ADDED"),
        "DELETED" => match key_of_json(raw) {
            Ok((key, resource_version)) => Step::Feed(Input::Deleted { key, resource_version }),
            Err(e) => Step::Garbage(e),
        },
        "BOOKMARK" => {
            let b: BookmarkObject = serde_json::from_slice(raw).unwrap_or_default();
            let initial_events_end = b.initial_events_end();
            Step::Feed(Input::Bookmark { resource_version: b.metadata.resource_version, initial_events_end })
        }
        "ERROR" => Step::Feed(Input::ErrorEvent(Status::from_json(raw).unwrap_or_else(|| Status::bare(500, raw)))),
        other => Step::Unknown(other.to_string()),
    }
}

/// One protobuf watch event (a frame's `WatchEvent`).
pub fn pb_step<R: Render>(render: &R, frame: &[u8]) -> Step {
    let opened = kwire::watch_event(frame).and_then(|ev| Ok((ev.kind, kwire::open(ev.object)?.raw)));
    let (kind, raw) = match opened {
        Ok(x) => x,
        Err(e) => return Step::Feed(Input::Failed(Failure::Undecodable(format!("watch event: {e}")))),
    };
    match kind {
        "ADDED" | "MODIFIED" => object_step(render.protobuf(raw), kind == "ADDED"),
        "DELETED" => match pb::key_of_pb(raw) {
            Ok((key, resource_version)) => Step::Feed(Input::Deleted { key, resource_version }),
            Err(e) => Step::Garbage(e.to_string()),
        },
        "BOOKMARK" => match pb::bookmark(raw) {
            Ok((resource_version, initial_events_end)) => {
                Step::Feed(Input::Bookmark { resource_version, initial_events_end })
            }
            Err(e) => Step::Feed(Input::Failed(Failure::Undecodable(format!("bookmark: {e}")))),
        },
        "ERROR" => {
            Step::Feed(Input::ErrorEvent(pb::status(raw).unwrap_or_else(|_| Status::bare(500, b"undecodable Status"))))
        }
        other => Step::Unknown(other.to_string()),
    }
}

fn object_step(decoded: Decoded, added: bool) -> Step {
    match decoded {
        Decoded::Item(item) if added => Step::Feed(Input::Object(item)),
        Decoded::Item(item) => Step::Feed(Input::Modified(item)),
        // Another shard's object: its resourceVersion still counts as progress.
        Decoded::Foreign { resource_version } => {
            Step::Feed(Input::Bookmark { resource_version, initial_events_end: false })
        }
        Decoded::Garbage(e) => Step::Garbage(e),
    }
}

/// Decodes every piece with `decode`, in order; with enough of them, the second half on the pool while
/// this task does the first.
pub async fn decode_all<R: Render, T: Send + 'static>(
    render: &std::sync::Arc<R>,
    mut pieces: Vec<Bytes>,
    decode: fn(&R, &[u8]) -> T,
) -> Vec<T> {
    if pieces.len() < PARALLEL_MIN {
        return pieces.iter().map(|p| decode(render, p)).collect();
    }
    let tail = pieces.split_off(pieces.len() / 2);
    // Kept (cheaply: shared bytes) in case the pool's half is lost.
    let again = tail.clone();
    let other = render.clone();
    let rest = crate::pool::run(move || tail.iter().map(|p| decode(&other, p)).collect::<Vec<T>>());
    let mut out: Vec<T> = pieces.iter().map(|p| decode(render, p)).collect();
    match rest.await {
        Ok(rest) => out.extend(rest),
        // The job panicked (renderers' panics are caught per object, so this would be one in decoding):
        // decode that half here, where a panic is this task's, as it was before batches.
        Err(_) => out.extend(again.iter().map(|p| decode(render, p))),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders an object as the text of its bytes (as garbage, which carries a string).
    struct Echo;

    impl Render for Echo {
        fn json(&self, raw: &[u8]) -> Decoded {
            Decoded::Garbage(String::from_utf8_lossy(raw).into_owned())
        }
    }

    fn text(d: &Decoded) -> &str {
        match d {
            Decoded::Garbage(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_batch_decoded_on_two_threads_keeps_its_order() {
        let render = std::sync::Arc::new(Echo);
        for n in [0, 1, PARALLEL_MIN - 1, PARALLEL_MIN, 257] {
            let pieces: Vec<Bytes> = (0..n).map(|i| Bytes::from(i.to_string())).collect();
            let on = |_: &Echo, raw: &[u8]| {
                (String::from_utf8_lossy(raw).into_owned(), std::thread::current().name().map(str::to_owned))
            };
            let decoded = decode_all(&render, pieces.clone(), on).await;
            let order: Vec<String> = decoded.iter().map(|(t, _)| t.clone()).collect();
            let want: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            assert_eq!(order, want, "{n} pieces");
            let on_pool =
                decoded.iter().filter(|(_, thread)| thread.as_deref().is_some_and(|t| t.starts_with("pool-"))).count();
            assert_eq!(on_pool, if n >= PARALLEL_MIN { n - n / 2 } else { 0 }, "{n} pieces");
            let rendered = decode_all(&render, pieces, |r: &Echo, raw: &[u8]| r.json(raw)).await;
            assert_eq!(rendered.iter().map(text).collect::<Vec<_>>(), want);
        }
    }

    #[tokio::test]
    async fn a_half_lost_on_the_pool_is_decoded_here() {
        let render = std::sync::Arc::new(Echo);
        let pieces: Vec<Bytes> = (0..40).map(|i| Bytes::from(i.to_string())).collect();
        // Fails on the pool only (as a bug in decoding would, once): the pool thread survives it.
        let flaky = |r: &Echo, raw: &[u8]| {
            if std::thread::current().name().is_some_and(|t| t.starts_with("pool-")) {
                panic!("lost on the pool");
            }
            r.json(raw)
        };
        let decoded = decode_all(&render, pieces.clone(), flaky).await;
        let want: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        assert_eq!(decoded.iter().map(text).collect::<Vec<_>>(), want);
        // The pool still works.
        let again = decode_all(&render, pieces, |r: &Echo, raw: &[u8]| r.json(raw)).await;
        assert_eq!(again.iter().map(text).collect::<Vec<_>>(), want);
    }

    #[test]
    fn pieces_inside_the_chunk_share_it_and_others_are_copied() {
        let chunk = Bytes::from_static(b"0123456789");
        let inner = piece_of(&chunk, &chunk[2..5]);
        assert_eq!(&inner[..], b"234");
        assert_eq!(inner.as_ptr(), chunk[2..].as_ptr(), "shared, not copied");
        let elsewhere = b"2345".to_vec();
        let copied = piece_of(&chunk, &elsewhere);
        assert_eq!(&copied[..], b"2345");
        assert_ne!(copied.as_ptr(), elsewhere.as_ptr());
        // A buffer that happens to start right after the chunk is not inside it.
        let whole = Bytes::from_static(b"abcdef");
        let front = whole.slice(..3);
        let after = piece_of(&front, &whole[3..]);
        assert_eq!(&after[..], b"def");
        assert_eq!(piece_of(&chunk, &chunk[..]).len(), 10);
    }
}
