//! The form the store keeps an object's rendering in: its text with the repetition taken out, laid out
//! for the order `/metrics` reads it in.
//!
//! Nearly every line of an object starts with the family name and the object's identity labels
//! (`kube_pod_status_phase{namespace="…",pod="…",uid="…"`), and those two parts are most of the bytes:
//! at 10,000 pods the served text is ~150 bytes a line of which ~125 are name and identity. So an object
//! keeps the longest prefix all its lines share after their family name, once, and per line only what
//! follows it; names live once per resource. A scrape glues name + prefix + rest back together.
//!
//! An object's text becomes `varint(prefix length) prefix` and one block per family in order, each
//! `varint(payload length << 1 | verbatim) payload`; a templated payload is `(varint(len) rest)*`. The
//! bulk of a store keeps those pieces family-major in [`super::columns::Columns`]; an object changed since
//! the last list is one [`Compact`] buffer holding them back to back, which a scrape reads block after
//! block with a [`Cursor`].
//!
//! Measured against the other candidate, compressed per-object blocks (see BENCHMARKS.md): those are
//! smaller still, but an object would have to be inflated once per family (61 times a scrape for a pod).

use std::sync::Arc;

use crate::family::Rendered;

/// One object's rendering in compact form (cheap to clone: snapshots share it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compact(Arc<[u8]>);

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*pos`, advancing it; `None` past the end or on an overlong encoding.
fn get_varint(buf: &[u8], pos: &mut usize) -> Option<usize> {
    let mut v = 0usize;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Lines of `s`, each with its trailing newline (a final unterminated piece is returned as is).
fn lines(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// Length of the longest common start of `a` and `b`, compared eight bytes at a time: every line of an
/// object is checked against a prefix of ~125 bytes, byte by byte that was a tenth of a start's CPU.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().unwrap_or_default());
        let y = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        if x != y {
            // Little-endian: the first differing byte is the lowest differing one.
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + a[i..n].iter().zip(&b[i..n]).take_while(|(x, y)| x == y).count()
}

/// Where a scrape stands in each object of a snapshot: the offset of the next family's block.
#[derive(Debug, Default)]
pub struct Cursor(Vec<u32>);

impl Cursor {
    pub fn new(objects: usize) -> Self {
        Cursor(vec![0; objects])
    }
}

/// Where [`encode`] writes an object's pieces: the buffer for its prefix (`None`) or for family `i`'s
/// block. [`Compact`] gives one buffer for all of them, [`super::columns::Columns`] one per family; either
/// way each byte is written once, in its final place.
pub(crate) trait Blocks {
    fn buf(&mut self, family: Option<usize>) -> &mut Vec<u8>;
}

impl Blocks for Vec<u8> {
    fn buf(&mut self, _: Option<usize>) -> &mut Vec<u8> {
        self
    }
}

/// Splits one object's text (one slice per enabled family; `names[i]` is family `i`'s metric name,
/// missing names count as empty, which is correct, only less compact) into the prefix its templated lines
/// share after their names and one block per family. `out` gets `varint(len) prefix` once, then
/// `varint(tag) payload` for every family in order.
pub(crate) fn encode<'a>(
    families: impl Iterator<Item = &'a [u8]> + Clone,
    names: &[impl AsRef<[u8]>],
    out: &mut impl Blocks,
) {
    let name = |i: usize| names.get(i).map_or(&b""[..], |n| n.as_ref());
    // One pass per family checks whether it can be templated and narrows the object's prefix by its
    // lines. At most 64 families are remembered here without allocating; the rest are checked again
    // when encoded.
    let mut templated_set = 0u64;
    let mut prefix: Option<&'a [u8]> = None;
    for (i, s) in families.clone().enumerate() {
        if templated(s, name(i), Some(&mut prefix)) && i < 64 {
            templated_set |= 1 << i;
        }
    }
    let prefix = prefix.unwrap_or_default();
    put_prefix(out.buf(None), prefix);
    for (i, s) in families.enumerate() {
        let verbatim = if i < 64 { templated_set & (1 << i) == 0 } else { !templated(s, name(i), None) };
        let block = out.buf(Some(i));
        if verbatim {
            put_varint(block, s.len() << 1 | 1);
            block.extend_from_slice(s);
        } else {
            // The payload's length first, so its pieces go straight after it.
            let skip = name(i).len() + prefix.len();
            let len: usize = lines(s).map(|l| varint_len(l.len() - skip) + l.len() - skip).sum();
            put_varint(block, len << 1);
            for l in lines(s) {
                put_varint(block, l.len() - skip);
                block.extend_from_slice(&l[skip..]);
            }
        }
    }
}

/// Encodes a rendering as [`encode`] does. One in store form ([`crate::family::Form::Store`]) is
/// already taken apart: its prefix and rests are copied as they are.
pub(crate) fn encode_rendered(r: &Rendered, names: &[impl AsRef<[u8]>], out: &mut impl Blocks) {
    let Some((prefix, line_ends)) = r.lines() else {
        return encode(r.families(), names, out);
    };
    if !fits(r, prefix, line_ends) {
        // Only a rendering past 4 GiB (offsets are u32) gets here; it is kept without series.
        debug_assert!(false, "a rendering in store form whose ends do not fit it");
        tracing::error!(bytes = r.buf.len(), "an object's rendering does not fit the store; its series are left out");
        put_prefix(out.buf(None), b"");
        for i in 0..r.family_count() {
            put_varint(out.buf(Some(i)), 1);
        }
        return;
    }
    put_prefix(out.buf(None), &r.buf[..prefix]);
    let (mut start, mut line) = (prefix, 0usize);
    for (i, &end) in r.family_ends().iter().enumerate() {
        let end = end as usize;
        let block = out.buf(Some(i));
        if end == start {
            // Empty families are verbatim, as `encode` keeps them.
            put_varint(block, 1);
            continue;
        }
        let first = line;
        while line_ends.get(line).is_some_and(|e| (*e as usize) <= end) {
            line += 1;
        }
        let family = &line_ends[first..line];
        let mut len = 0;
        let mut from = start;
        for &e in family {
            let rest = e as usize - from;
            len += varint_len(rest) + rest;
            from = e as usize;
        }
        put_varint(block, len << 1);
        let mut from = start;
        for &e in family {
            let e = e as usize;
            put_varint(block, e - from);
            block.extend_from_slice(&r.buf[from..e]);
            from = e;
        }
        start = end;
    }
}

/// Whether a rendering in store form is whole: the families follow the prefix in order inside the
/// buffer, and each family's line ends lie inside it, the last exactly at its end, no line empty.
fn fits(r: &Rendered, prefix: usize, line_ends: &[u32]) -> bool {
    let (mut start, mut line) = (prefix, 0usize);
    if prefix > r.buf.len() {
        return false;
    }
    for &end in r.family_ends() {
        let end = end as usize;
        if end < start || end > r.buf.len() {
            return false;
        }
        while start < end {
            let Some(&e) = line_ends.get(line) else { return false };
            let e = e as usize;
            if e > end || e <= start {
                return false;
            }
            start = e;
            line += 1;
        }
    }
    line == line_ends.len()
}

/// Whether family text `s` can be templated: every line starts with its name `n` and ends with a newline
/// (the renderers always produce that; anything else is kept verbatim rather than assumed). The same pass
/// narrows `narrow`, the prefix shared so far, by this family's lines (after the name, short of the
/// newline so no remainder is empty), but only when the family is templated.
fn templated<'a>(s: &'a [u8], n: &[u8], narrow: Option<&mut Option<&'a [u8]>>) -> bool {
    if s.is_empty() || !s.ends_with(b"\n") {
        return false;
    }
    let mut own: Option<&[u8]> = None;
    let want = narrow.is_some();
    for l in lines(s) {
        if !l.starts_with(n) {
            return false;
        }
        if want {
            let after = &l[n.len()..l.len() - 1];
            own = Some(match own {
                None => after,
                Some(p) => &p[..common_prefix(p, after)],
            });
        }
    }
    if let (Some(total), Some(own)) = (narrow, own) {
        *total = Some(match *total {
            None => own,
            Some(p) => &p[..common_prefix(p, own)],
        });
    }
    true
}

fn varint_len(v: usize) -> usize {
    (usize::BITS - (v | 1).leading_zeros()).div_ceil(7) as usize
}

/// Reads the block at `*pos` of `buf` (`varint(tag) payload`), advancing `*pos` past it: (payload,
/// verbatim). `None` at the end of `buf`.
pub(crate) fn read_block<'a>(buf: &'a [u8], pos: &mut usize) -> Option<(&'a [u8], bool)> {
    let tag = get_varint(buf, pos)?;
    let end = (*pos + (tag >> 1)).min(buf.len());
    let payload = &buf[*pos..end];
    *pos = end;
    Some((payload, tag & 1 == 1))
}

/// Reads the prefix at `*pos` of `buf` (`varint(len) prefix`), advancing `*pos` past it.
pub(crate) fn read_prefix<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let len = get_varint(buf, pos).unwrap_or(0);
    let end = (*pos + len).min(buf.len());
    let p = &buf[*pos..end];
    *pos = end;
    p
}

/// Appends a block's lines: each templated remainder gets the family name and the object's prefix back.
pub(crate) fn write_lines(name: &[u8], prefix: &[u8], payload: &[u8], verbatim: bool, out: &mut Vec<u8>) {
    if verbatim {
        out.extend_from_slice(payload);
        return;
    }
    let mut pos = 0;
    while let Some(len) = get_varint(payload, &mut pos) {
        let end = (pos + len).min(payload.len());
        out.extend_from_slice(name);
        out.extend_from_slice(prefix);
        out.extend_from_slice(&payload[pos..end]);
        pos = end;
    }
}

/// Appends a prefix (`varint(len) prefix`) to `out`.
pub(crate) fn put_prefix(out: &mut Vec<u8>, prefix: &[u8]) {
    put_varint(out, prefix.len());
    out.extend_from_slice(prefix);
}

/// Appends a block (`varint(tag) payload`) to `out`.
pub(crate) fn put_block(out: &mut Vec<u8>, payload: &[u8], verbatim: bool) {
    put_varint(out, payload.len() << 1 | usize::from(verbatim));
    out.extend_from_slice(payload);
}

/// Bytes of text a block serves.
pub(crate) fn block_text_len(name: &[u8], prefix: &[u8], payload: &[u8], verbatim: bool) -> usize {
    if verbatim {
        return payload.len();
    }
    let (mut pos, mut n) = (0, 0);
    while let Some(len) = get_varint(payload, &mut pos) {
        pos += len;
        n += len + name.len() + prefix.len();
    }
    n
}

impl Compact {
    /// Compacts a rendering (see [`encode_rendered`]).
    pub fn of(r: &Rendered, names: &[impl AsRef<[u8]>]) -> Compact {
        // Text shrinks to about half; the store form only gains its varints (a byte a line, mostly).
        let capacity = match r.lines() {
            Some((_, line_ends)) => r.buf.len() + line_ends.len() + 2 * r.family_count() + 4,
            None => r.buf.len() / 2,
        };
        let mut buf = Vec::with_capacity(capacity);
        encode_rendered(r, names, &mut buf);
        Compact(buf.into())
    }

    /// The prefix every templated line of this object carries after its family name.
    pub(crate) fn prefix_bytes(&self) -> &[u8] {
        self.prefix().0
    }

    /// The block after the one `cursor` last returned for object `obj` (the first one on a new cursor).
    pub(crate) fn next_block(&self, cursor: &mut Cursor, obj: usize) -> Option<(&[u8], bool)> {
        let at = cursor.0.get_mut(obj)?;
        let mut pos = match *at {
            0 => self.prefix().1,
            p => p as usize,
        };
        let block = read_block(&self.0, &mut pos)?;
        *at = u32::try_from(pos).unwrap_or(u32::MAX);
        Some(block)
    }

    fn prefix(&self) -> (&[u8], usize) {
        let mut pos = 0;
        let p = read_prefix(&self.0, &mut pos);
        (p, pos)
    }

    /// Family blocks from `pos` on: (payload, verbatim).
    #[cfg(test)]
    fn blocks(&self, mut pos: usize) -> impl Iterator<Item = (&[u8], bool)> {
        std::iter::from_fn(move || read_block(&self.0, &mut pos))
    }

    /// Appends the next family's lines (the family after the one `cursor` last wrote for object `obj`) to
    /// `out`; `name` is that family's name as given to [`Compact::of`]. Past the last family it writes
    /// nothing. (Scrapes go through [`super::columns::View`]; this checks the cursor on its own.)
    #[cfg(test)]
    fn write_next(&self, cursor: &mut Cursor, obj: usize, name: &[u8], out: &mut Vec<u8>) {
        if let Some((payload, verbatim)) = self.next_block(cursor, obj) {
            write_lines(name, self.prefix().0, payload, verbatim, out);
        }
    }

    /// Appends family `i`'s lines to `out` (walking the blocks before it; tests).
    #[cfg(test)]
    fn write_family(&self, i: usize, name: &[u8], out: &mut Vec<u8>) {
        if let Some((payload, verbatim)) = self.blocks(self.prefix().1).nth(i) {
            write_lines(name, self.prefix().0, payload, verbatim, out);
        }
    }

    /// Bytes of text this object serves, all families together (tests; the store counts through views).
    #[cfg(test)]
    fn text_len(&self, names: &[impl AsRef<[u8]>]) -> usize {
        let (prefix, start) = self.prefix();
        let name = |i: usize| names.get(i).map_or(&b""[..], |n| n.as_ref());
        self.blocks(start)
            .enumerate()
            .map(|(i, (payload, verbatim))| block_text_len(name(i), prefix, payload, verbatim))
            .sum()
    }

    /// Whether `other` is this very rendering (not merely equal text).
    pub fn same(&self, other: &Compact) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Bytes held (the buffer alone, without allocator overhead).
    pub fn held_bytes(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Ctx, Family, Form, Samples, Stability, render};
    use crate::proj::Str;

    fn roundtrip(fams: &[&str], names: &[&str]) -> Compact {
        let c = Compact::of(&Rendered::of_text(fams), names);
        let name = |i: usize| names.get(i).map_or(&b""[..], |n| n.as_bytes());
        let mut cursor = Cursor::new(1);
        for (i, f) in fams.iter().enumerate() {
            let mut out = Vec::new();
            c.write_family(i, name(i), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), *f, "family {i}");
            let mut out = Vec::new();
            c.write_next(&mut cursor, 0, name(i), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), *f, "family {i} by cursor");
        }
        // Past the last family nothing more is written.
        let mut out = Vec::new();
        c.write_next(&mut cursor, 0, b"x", &mut out);
        assert!(out.is_empty());
        assert_eq!(c.text_len(names), fams.iter().map(|f| f.len()).sum::<usize>());
        c
    }

    #[test]
    fn identity_and_names_are_kept_once() {
        let fams = [
            "kube_pod_info{namespace=\"ns\",pod=\"p\",uid=\"u\",node=\"n1\"} 1\n",
            "kube_pod_status_phase{namespace=\"ns\",pod=\"p\",uid=\"u\",phase=\"Pending\"} 0\n\
             kube_pod_status_phase{namespace=\"ns\",pod=\"p\",uid=\"u\",phase=\"Running\"} 1\n",
            "",
            "kube_pod_created{namespace=\"ns\",pod=\"p\",uid=\"u\"} 1.7e+09\n",
        ];
        let names = ["kube_pod_info", "kube_pod_status_phase", "kube_pod_absent", "kube_pod_created"];
        let c = roundtrip(&fams, &names);
        assert_eq!(c.prefix().0, b"{namespace=\"ns\",pod=\"p\",uid=\"u\"");
        let text: usize = fams.iter().map(|f| f.len()).sum();
        assert!(c.held_bytes() * 2 < text, "{} held for {text} served", c.held_bytes());
    }

    #[test]
    fn lines_that_do_not_start_with_their_name_stay_verbatim() {
        let fams = ["a{x=\"1\"} 1\nb{x=\"1\"} 2\n", "c{x=\"1\"} 3\n"];
        let c = roundtrip(&fams, &["a", "c"]);
        let verbatim: Vec<bool> = c.blocks(c.prefix().1).map(|(_, v)| v).collect();
        assert_eq!(verbatim, [true, false]);
    }

    #[test]
    fn long_lines_and_many_objects_share_one_cursor() {
        let long = format!("m{{a=\"{}\"}} 1\n", "v".repeat(70_000));
        let objs: Vec<Compact> = (0..3)
            .map(|o| {
                let f0 = format!("m{{o=\"{o}\"}} 1\nm{{o=\"{o}\",x=\"y\"}} 2\n");
                Compact::of(&Rendered::of_text([f0.as_bytes(), long.as_bytes()]), &["m", "m"])
            })
            .collect();
        let mut cursor = Cursor::new(3);
        for fam in 0..2 {
            for (o, c) in objs.iter().enumerate() {
                let mut out = Vec::new();
                c.write_next(&mut cursor, o, b"m", &mut out);
                let want =
                    if fam == 0 { format!("m{{o=\"{o}\"}} 1\nm{{o=\"{o}\",x=\"y\"}} 2\n") } else { long.clone() };
                assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }
    }

    #[test]
    fn unknown_names_empty_families_and_odd_text() {
        roundtrip(&["x 1\n", "y{a=\"b\"} 2\n"], &[] as &[&str]);
        roundtrip(&["", ""], &["a", "b"]);
        // Identical lines: the prefix must stop short of the newline so no remainder is empty.
        roundtrip(&["m{a=\"1\"} 1\nm{a=\"1\"} 1\n"], &["m"]);
        // A family without a final newline is kept as it is.
        roundtrip(&["m{a=\"1\"} 1"], &["m"]);
        // Lines without labels and lines whose values differ right after the name.
        roundtrip(&["m 1\nm 2\n", "n{a=\"\\n\"} 3\n"], &["m", "n"]);
        // Label values that are not UTF-8 or hold NUL bytes survive byte for byte.
        let c = Compact::of(&Rendered::of_text([&b"m{a=\"\xff\0\"} 1\nm{a=\"\0\"} 2\n"[..]]), &["m"]);
        let mut out = Vec::new();
        c.write_family(0, b"m", &mut out);
        assert_eq!(out, b"m{a=\"\xff\0\"} 1\nm{a=\"\0\"} 2\n");
        // A family index past the end writes nothing.
        out.clear();
        c.write_family(5, b"m", &mut out);
        assert!(out.is_empty());
    }

    /// Each family's text as `c` serves it.
    fn served(c: &Compact, names: &[&str], families: usize) -> Vec<String> {
        (0..families)
            .map(|i| {
                let mut out = Vec::new();
                c.write_family(i, names.get(i).map_or(&b""[..], |n| n.as_bytes()), &mut out);
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    struct Obj {
        phases: Vec<&'static str>,
    }

    fn created(_: &Obj, _: &Ctx, s: &mut Samples<'_>) {
        s.push(&[], 1.7e9);
    }

    fn phase(o: &Obj, _: &Ctx, s: &mut Samples<'_>) {
        for p in &o.phases {
            s.push(&[("phase", p)], 1.0);
        }
    }

    const TABLE: [Family<Obj>; 3] = [
        Family::gauge("m_created", "", Stability::Alpha, created),
        Family::gauge("m_phase", "", Stability::Alpha, phase),
        Family::gauge("m_none", "", Stability::Alpha, |_, _, _| {}),
    ];
    const NAMES: [&str; 3] = ["m_created", "m_phase", "m_none"];

    #[test]
    fn the_store_form_encodes_as_the_text_would() {
        let obj = Obj { phases: vec!["Pending", "Running"] };
        for identity in [vec![("namespace", Str::from("ns")), ("pod", Str::from("p\"q"))], vec![]] {
            for enabled in [vec![0, 1, 2], vec![2, 1], vec![2], vec![]] {
                let text = render(&obj, &identity, &TABLE, &enabled, &Ctx::default(), Form::Text);
                let stored = render(&obj, &identity, &TABLE, &enabled, &Ctx::default(), Form::Store);
                assert!(text.lines().is_none() && stored.lines().is_some());
                assert!(stored.buf.len() < text.buf.len() || enabled.is_empty() || enabled == [2]);
                let names: Vec<&str> = enabled.iter().map(|i| NAMES[*i]).collect();
                let from_store_form = Compact::of(&stored, &names);
                let from_text = Compact::of(&text, &names);
                let want: Vec<String> = text.families().map(|f| String::from_utf8(f.to_vec()).unwrap()).collect();
                assert_eq!(served(&from_store_form, &names, enabled.len()), want, "{identity:?} {enabled:?}");
                assert_eq!(from_store_form.text_len(&names), text.buf.len());
                assert_eq!(stored.to_text(&names), text.buf);
                assert_eq!(stored.text_form(&names), text);
                // Where the prefix the text shares is the identity, the two are the same bytes.
                if !identity.is_empty() && enabled.contains(&0) {
                    assert_eq!(from_store_form, from_text, "{enabled:?}");
                    assert_eq!(from_store_form.prefix().0, b"{namespace=\"ns\",pod=\"p\\\"q\"");
                }
            }
        }
    }

    #[test]
    fn a_store_form_whose_ends_do_not_fit_is_caught() {
        let obj = Obj { phases: vec!["Running"] };
        let r = render(&obj, &[("pod", Str::from("p"))], &TABLE, &[0, 1, 2], &Ctx::default(), Form::Store);
        let (prefix, good) = r.lines().unwrap();
        assert!(fits(&r, prefix, good));
        let families = r.family_count();
        for bad_ends in [vec![], vec![10, 20], good.iter().map(|e| e - 1).collect(), vec![5; good.len()]] {
            let mut bad = r.clone();
            bad.ends.truncate(families);
            bad.ends.extend(bad_ends);
            assert!(!fits(&bad, prefix, &bad.ends[families..]));
        }
        assert!(!fits(&r, r.buf.len() + 1, good));
        let mut bad = r.clone();
        bad.ends[0] = u32::MAX;
        assert!(!fits(&bad, prefix, good));
    }

    #[test]
    fn varints_round_trip_and_reject_truncation() {
        for v in [0usize, 1, 127, 128, 300, 1 << 20, u32::MAX as usize] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos), Some(v));
            assert_eq!(pos, b.len());
        }
        assert_eq!(get_varint(&[0x80], &mut 0), None);
        assert_eq!(get_varint(&[0xff; 11], &mut 0), None);
    }

    #[test]
    fn varint_len_is_what_put_varint_writes() {
        for v in [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, usize::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(varint_len(v), b.len(), "{v}");
        }
    }

    #[test]
    fn common_prefix_word_at_a_time_agrees_with_byte_at_a_time() {
        let base: Vec<u8> = (0..40u8).collect();
        for len_a in 0..=base.len() {
            for differ in 0..=len_a {
                let a = &base[..len_a];
                let mut b = base.clone();
                if differ < b.len() {
                    b[differ] ^= 0x80;
                }
                let naive = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
                assert_eq!(common_prefix(a, &b), naive, "len {len_a}, differing at {differ}");
                assert_eq!(common_prefix(&b, a), naive, "len {len_a}, differing at {differ}");
            }
        }
    }
}
