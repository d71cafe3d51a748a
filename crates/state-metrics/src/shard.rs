//! Which objects a shard keeps. Two ways to split them:
//!
//! * [`Split::Jump`], client-side and compatible with upstream (ksm-flags.md §5): an object belongs to
//!   shard `jump(fnv1a_64(uid), total)`, so a mixed fleet of upstream and kubestate shards splits objects
//!   the same way. Every shard receives every object and drops the others'.
//! * [`Split::Range`], server-side (KEP-5866, `ShardedListAndWatch`): shard `i` of `n` owns the uids whose
//!   FNV-1a 64 hash falls in `[i·2^64/n, (i+1)·2^64/n)`, and asks the API server for exactly those with a
//!   `shardSelector`. The same range is also checked locally, so a shard never keeps another's object even
//!   if a server behind the same address ignores the selector.
//!
//! The two assign objects differently: every shard of one deployment must use the same split.

/// How objects are split among shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    /// Jump consistent hash of the uid, filtered here (upstream's way).
    #[default]
    Jump,
    /// Contiguous ranges of the uid's hash, filtered by the API server.
    Range,
}

impl Split {
    /// The word telemetry and logs use: `client` or `server` (where the filtering happens).
    pub fn word(self) -> &'static str {
        match self {
            Split::Jump => "client",
            Split::Range => "server",
        }
    }
}

/// The shard an instance settled on, and while server-side sharding is blocked ([`Shard::blocked`]) the
/// reason, so that what waits for it (custom resources) can name the same reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effective {
    pub shard: Shard,
    pub blocked: Option<std::sync::Arc<str>>,
}

/// Which objects of the whole a shard keeps (`--shard`/`--total-shards`, or auto-sharding), and how
/// they are split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
    pub split: Split,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::new(0, 1)
    }
}

impl Shard {
    /// Shard `index` of `total`, split client-side until told otherwise.
    pub fn new(index: u32, total: u32) -> Self {
        Shard { index, total, split: Split::Jump }
    }

    pub fn with_split(self, split: Split) -> Self {
        Shard { split, ..self }
    }

    /// More than one shard: objects are divided at all.
    pub fn sharded(self) -> bool {
        self.total > 1
    }

    /// The shard a server-mode instance is given while the API server cannot shard for it: past the
    /// last one, so it owns nothing, and [`Shard::is_blocked`] tells its list/watches not to run.
    pub fn blocked(of: Shard) -> Shard {
        Shard { index: of.total, ..of.with_split(Split::Range) }
    }

    pub fn is_blocked(self) -> bool {
        self.index >= self.total
    }

    /// Whether this shard owns the object with `uid`.
    pub fn owns(self, uid: &str) -> bool {
        match self.split {
            Split::Jump => owns(uid, self.index, self.total),
            Split::Range => !self.sharded() || self.range().contains(fnv1a_64(uid.as_bytes())),
        }
    }

    /// This shard's part of the hash space (the whole of it for one shard).
    pub fn range(self) -> HashRange {
        HashRange::of(self.index, self.total)
    }

    /// The `shardSelector` every list and watch carries: only for server-side splitting of more than one
    /// shard.
    pub fn selector(self) -> Option<String> {
        if self.split != Split::Range || !self.sharded() {
            return None;
        }
        let range = self.range();
        // The server refuses an empty range; the narrowest it accepts (one hash value) brings next to
        // nothing, and the local check drops even that.
        let asked = if range.is_empty() { HashRange { start: u64::MAX, end: 1 << 64 } } else { range };
        Some(asked.selector())
    }
}

/// `[start, end)` of the 64-bit hash space; `end` may be 2^64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashRange {
    pub start: u64,
    pub end: u128,
}

impl HashRange {
    /// Part `index` of `total` equal parts: `[index·2^64/total, (index+1)·2^64/total)`, rounded down at
    /// both ends so that consecutive parts meet exactly and the last ends at 2^64.
    /// A shard index at or past the total (a StatefulSet pod above its new replica count, about to be
    /// deleted) owns nothing: the range is empty.
    pub fn of(index: u32, total: u32) -> Self {
        let total = u128::from(total.max(1));
        let index = u128::from(index);
        if index >= total {
            return HashRange { start: u64::MAX, end: u128::from(u64::MAX) };
        }
        let bound = |i: u128| (i << 64) / total;
        // index < total, so the start is below 2^64.
        HashRange { start: u64::try_from(bound(index)).unwrap_or(u64::MAX), end: bound(index + 1) }
    }

    pub fn contains(self, hash: u64) -> bool {
        self.start <= hash && u128::from(hash) < self.end
    }

    pub fn is_empty(self) -> bool {
        u128::from(self.start) >= self.end
    }

    /// `shardRange(object.metadata.uid,'0x…','0x…')`: 16 lowercase hex digits per bound, 17 for 2^64, as
    /// the API server requires.
    pub fn selector(self) -> String {
        format!("shardRange(object.metadata.uid,'0x{:016x}','0x{:016x}')", self.start, self.end)
    }
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET_BASIS, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// Jump consistent hash (Lamping & Veach). The float64 step is kept bit-for-bit as the Go version
/// computes it, because a different rounding would move objects between shards. Returns -1 for
/// `buckets <= 0`, like the reference.
pub fn jump_hash(mut key: u64, buckets: i32) -> i32 {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // `as` saturates where Go's conversion is implementation-defined; the quotient is bounded by
        // (b+1)*2^31, far inside i64, so both agree.
        j = ((b + 1) as f64 * ((1i64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    // b < buckets <= i32::MAX.
    b as i32
}

/// Whether the object with `uid` belongs to `shard` of `total`. One shard (or zero) owns everything.
pub fn owns(uid: &str, shard: u32, total: u32) -> bool {
    if total <= 1 {
        return true;
    }
    let buckets = i32::try_from(total).unwrap_or(i32::MAX);
    i64::from(jump_hash(fnv1a_64(uid.as_bytes()), buckets)) == i64::from(shard)
}

/// The ordinal of a StatefulSet pod (`<statefulset>-<ordinal>`), used by auto-sharding. `None` when the
/// pod name does not have that shape.
pub fn statefulset_ordinal(pod_name: &str, statefulset_name: &str) -> Option<u32> {
    let rest = pod_name.strip_prefix(statefulset_name)?.strip_prefix('-')?;
    // Only plain digits: `parse` would also take a leading `+`, which no StatefulSet pod name has.
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// Auto-sharding result: this pod's shard and the StatefulSet's replica count (`None` replicas = 1).
pub fn auto_shard(pod_name: &str, statefulset_name: &str, replicas: Option<i32>) -> Option<(u32, u32)> {
    let shard = statefulset_ordinal(pod_name, statefulset_name)?;
    let total = u32::try_from(replicas.unwrap_or(1)).ok()?;
    Some((shard, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_64: u128 = 1 << 64;

    fn bounds(total: u32) -> Vec<(u64, u128)> {
        (0..total).map(|i| HashRange::of(i, total)).map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn ranges_tile_the_hash_space_exactly() {
        assert_eq!(bounds(1), [(0, TWO_64)]);
        assert_eq!(bounds(2), [(0, 0x8000_0000_0000_0000), (0x8000_0000_0000_0000, TWO_64)]);
        assert_eq!(
            bounds(3),
            [
                (0, 0x5555_5555_5555_5555),
                (0x5555_5555_5555_5555, 0xaaaa_aaaa_aaaa_aaaa),
                (0xaaaa_aaaa_aaaa_aaaa, TWO_64)
            ]
        );
        for total in [1, 2, 3, 4, 5, 7, 64, 1000, u32::MAX] {
            let first = HashRange::of(0, total);
            let last = HashRange::of(total - 1, total);
            assert_eq!((first.start, last.end), (0, TWO_64), "{total}");
            if total <= 1000 {
                let b = bounds(total);
                assert!(b.windows(2).all(|w| u128::from(w[1].0) == w[0].1), "{total}: contiguous");
                assert!(b.iter().all(|(s, e)| u128::from(*s) < *e), "{total}: none empty");
            }
        }
        // The edges belong to exactly one shard.
        let r = HashRange::of(1, 3);
        assert!(r.contains(0x5555_5555_5555_5555) && !r.contains(0x5555_5555_5555_5554));
        assert!(!r.contains(0xaaaa_aaaa_aaaa_aaaa) && r.contains(0xaaaa_aaaa_aaaa_aaa9));
        assert!(HashRange::of(2, 3).contains(u64::MAX) && HashRange::of(0, 3).contains(0));
    }

    #[test]
    fn selectors_are_written_as_the_server_requires() {
        let range = |i, n| Shard::new(i, n).with_split(Split::Range);
        assert_eq!(
            range(0, 3).selector().unwrap(),
            "shardRange(object.metadata.uid,'0x0000000000000000','0x5555555555555555')"
        );
        assert_eq!(
            range(2, 3).selector().unwrap(),
            "shardRange(object.metadata.uid,'0xaaaaaaaaaaaaaaaa','0x10000000000000000')"
        );
        assert_eq!(
            range(1, 2).selector().unwrap(),
            "shardRange(object.metadata.uid,'0x8000000000000000','0x10000000000000000')"
        );
        // One shard, or client-side splitting: no selector.
        assert_eq!(range(0, 1).selector(), None);
        assert_eq!(Shard::new(1, 3).selector(), None);
        assert_eq!(
            HashRange::of(0, 1).selector(),
            "shardRange(object.metadata.uid,'0x0000000000000000','0x10000000000000000')"
        );
    }

    #[test]
    fn a_shard_past_the_total_owns_nothing() {
        let gone = Shard::new(3, 3).with_split(Split::Range);
        assert!(gone.range().is_empty());
        assert!(["", "a", "f737757c-2039-4296-bc26-c58e937513fb"].iter().all(|u| !gone.owns(u)));
        assert!(!Shard::new(3, 3).owns("a"));
        // The narrowest range the server accepts.
        assert_eq!(
            gone.selector().unwrap(),
            "shardRange(object.metadata.uid,'0xffffffffffffffff','0x10000000000000000')"
        );
    }

    /// uids of a real v1.36.2 server's objects, and the half its sharded lists put each in
    /// (../kwire/tests/wire/pods.list-shard{0,1}.json, configmaps.list-shard{0,1}.json).
    #[test]
    fn halves_agree_with_a_real_server() {
        let cases = [
            ("f737757c-2039-4296-bc26-c58e937513fb", 0x2a8d_de50_798f_53d3, 0),
            ("2f66078c-bc05-4136-b9ac-5b7d93da2f40", 0x3797_fcd7_0745_a2bb, 0),
            ("744b1311-5e18-410c-91f8-28c0b41a39fc", 0x376a_64e1_caa3_17db, 0),
            ("d221fba3-5326-40ff-923f-679a77cab12f", 0xabda_fcbc_bcc6_9992, 1),
            ("4213bc4e-a7d0-4260-8235-285210970d34", 0x177a_b1ed_146a_02f6, 0),
            ("41491050-8fa2-4d61-9d5b-be019fcb1510", 0xb169_682b_402c_37c6, 1),
            ("c83de938-d538-4568-82dc-52f765eab3d4", 0xa8bf_3dfb_868b_9c58, 1),
        ];
        for (uid, hash, half) in cases {
            assert_eq!(fnv1a_64(uid.as_bytes()), hash, "{uid}");
            for i in 0..2 {
                assert_eq!(Shard::new(i, 2).with_split(Split::Range).owns(uid), i == half, "{uid} in {i}");
            }
        }
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    }
}
