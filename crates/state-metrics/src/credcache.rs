//! Bounded caches of authentication outcomes (`--auth-filter` decisions, basic-auth checks).
//!
//! Credentials come from unauthenticated clients and may be as large as a request header (hundreds of
//! KiB), so a cache never holds them: it is keyed by an HMAC-SHA256 of the credentials under a key drawn
//! at start. The digest is fixed-size, and a client cannot choose values that collide. Each cache holds
//! at most `max` entries. Expired entries are dropped whenever one is inserted, and when the cache is
//! full the oldest entry gives way. Memory is therefore bounded by `max` whatever clients send.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A digest of credentials (and whatever else the cached outcome depends on).
pub type Key = [u8; 32];

/// Computes [`Key`]s under a secret drawn once per process.
pub struct Hasher {
    key: ring::hmac::Key,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    pub fn new() -> Self {
        let mut secret = [0u8; 32];
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret).is_err() {
            // No OS randomness (never seen on Linux): std's per-process random hash keys still keep the
            // secret out of a client's reach.
            use std::hash::BuildHasher;
            for (i, chunk) in secret.chunks_mut(8).enumerate() {
                chunk.copy_from_slice(&std::collections::hash_map::RandomState::new().hash_one(i).to_le_bytes());
            }
        }
        Hasher { key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret) }
    }

    /// The digest of `parts`, each length-prefixed so that no two different lists of parts can give the
    /// same input.
    pub fn key(&self, parts: &[&[u8]]) -> Key {
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(&(p.len() as u64).to_le_bytes());
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

struct Entry<V> {
    at: Instant,
    seq: u64,
    value: V,
}

struct Inner<V> {
    map: HashMap<Key, Entry<V>>,
    /// Keys in insertion order, with the sequence number of that insertion; a key updated since has a
    /// newer number in the map, and its old place here is skipped.
    order: VecDeque<(Key, u64)>,
    seq: u64,
}

impl<V> Inner<V> {
    /// Removes the oldest insertion; its key leaves the map unless it was inserted again since.
    fn pop_oldest(&mut self) {
        if let Some((k, seq)) = self.order.pop_front()
            && self.map.get(&k).is_some_and(|e| e.seq == seq)
        {
            self.map.remove(&k);
        }
    }
}

/// A cache of outcomes by [`Key`], holding each for `ttl` (forever if `None`) and at most `max` of them.
pub struct Cache<V> {
    ttl: Option<Duration>,
    max: usize,
    inner: Mutex<Inner<V>>,
}

impl<V: Copy> Cache<V> {
    pub fn new(ttl: Option<Duration>, max: usize) -> Self {
        let max = max.max(1);
        let inner = Inner { map: HashMap::new(), order: VecDeque::new(), seq: 0 };
        Cache { ttl, max, inner: Mutex::new(inner) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, at: Instant, now: Instant) -> bool {
        self.ttl.is_none_or(|ttl| now.saturating_duration_since(at) < ttl)
    }

    pub fn get(&self, key: &Key, now: Instant) -> Option<V> {
        let g = self.lock();
        g.map.get(key).filter(|e| self.fresh(e.at, now)).map(|e| e.value)
    }

    pub fn put(&self, key: Key, value: V, now: Instant) {
        let mut g = self.lock();
        // Drop what has expired, oldest first (insertions come in time order).
        loop {
            let stale = match g.order.front() {
                None => false,
                Some((k, seq)) => match g.map.get(k) {
                    Some(e) if e.seq == *seq => !self.fresh(e.at, now),
                    _ => true,
                },
            };
            if !stale {
                break;
            }
            g.pop_oldest();
        }
        while g.order.len() >= self.max {
            g.pop_oldest();
        }
        g.seq += 1;
        let seq = g.seq;
        g.order.push_back((key, seq));
        g.map.insert(key, Entry { at: now, seq, value });
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the cache's tables take (what a flood of distinct credentials could make it hold).
    pub fn held_bytes(&self) -> usize {
        let g = self.lock();
        // A hash table slot also has one control byte.
        g.map.capacity() * (size_of::<(Key, Entry<V>)>() + 1) + g.order.capacity() * size_of::<(Key, u64)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_size_and_separate_their_parts() {
        let h = Hasher::new();
        assert_eq!(h.key(&[b"ab", b"c"]), h.key(&[b"ab", b"c"]));
        assert_ne!(h.key(&[b"ab", b"c"]), h.key(&[b"a", b"bc"]));
        assert_ne!(h.key(&[b"abc"]), h.key(&[b"abc", b""]));
        // Another process (another secret) gives other keys.
        assert_ne!(Hasher::new().key(&[b"abc"]), h.key(&[b"abc"]));
    }

    fn k(i: u8) -> Key {
        [i; 32]
    }

    #[test]
    fn entries_expire_and_expired_ones_leave_on_insert() {
        let c = Cache::new(Some(Duration::from_secs(10)), 100);
        let t0 = Instant::now();
        c.put(k(1), 'a', t0);
        c.put(k(2), 'b', t0 + Duration::from_secs(5));
        assert_eq!(c.get(&k(1), t0 + Duration::from_secs(9)), Some('a'));
        assert_eq!(c.get(&k(1), t0 + Duration::from_secs(10)), None);
        // Not full, yet the insert drops the expired entry.
        c.put(k(3), 'c', t0 + Duration::from_secs(11));
        assert_eq!(c.len(), 2);
        c.put(k(4), 'd', t0 + Duration::from_secs(30));
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&k(4), t0 + Duration::from_secs(30)), Some('d'));
    }

    #[test]
    fn full_cache_drops_its_oldest_entry() {
        let c = Cache::new(None, 3);
        let t = Instant::now();
        for i in 1..=3 {
            c.put(k(i), i, t);
        }
        // Updating a key moves it to the back; the stale place it leaves is not counted twice.
        c.put(k(1), 10, t);
        c.put(k(4), 4, t);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&k(2), t), None);
        assert_eq!(c.get(&k(1), t), Some(10));
        c.put(k(5), 5, t);
        assert_eq!(c.get(&k(3), t), None);
        assert_eq!(c.get(&k(1), t), Some(10));
        assert_eq!(c.get(&k(4), t), Some(4));
        assert_eq!(c.get(&k(5), t), Some(5));
        // Without a ttl entries never expire.
        assert_eq!(c.get(&k(5), t + Duration::from_secs(1_000_000)), Some(5));
    }

    #[test]
    fn memory_is_bounded_whatever_the_credentials() {
        let h = Hasher::new();
        let big = "x".repeat(200 * 1024);
        let c = Cache::new(Some(Duration::from_secs(10)), 1024);
        let t = Instant::now();
        for i in 0..5_000 {
            let token = format!("{i}{big}");
            c.put(h.key(&[b"get", b"/metrics", token.as_bytes()]), true, t);
        }
        assert_eq!(c.len(), 1024);
        // 5,000 tokens of 200 KiB (1 GB) leave a table of 1,024 fixed-size digests.
        let held = c.held_bytes();
        assert!(held < 512 * 1024, "{held}");
    }
}
