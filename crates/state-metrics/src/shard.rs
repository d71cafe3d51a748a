//! Client-side sharding compatible with upstream (ksm-flags.md §5): an object belongs to shard
//! `jump(fnv1a_64(uid), total)`, so a mixed fleet of upstream and kubestate shards splits objects the
//! same way.

/// Which objects of the whole a shard keeps (`--shard`/`--total-shards`, or auto-sharding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, total: 1 }
    }
}

impl Shard {
    /// Whether this shard owns the object with `uid`.
    pub fn owns(self, uid: &str) -> bool {
        owns(uid, self.index, self.total)
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
