//! KEP-5866 sharded list and watch (`ShardedListAndWatch`, alpha in v1.36): a `shardSelector` such as
//! `shardRange(object.metadata.uid, '0x0000000000000000', '0x8000000000000000')` (several joined by
//! `||`) keeps the objects whose FNV-1a 64 hash of the field falls in `[start, end)`.
//!
//! Parsing follows the answers of a real v1.36.2 server: the field path is checked first, then the
//! start and the end bound (a `0x`-prefixed 16-digit hex value; `0x10000000000000000`, 2^64, only as
//! an end), then that start is below end. Messages are the real server's; it sends them in a 500
//! Status without a reason.

/// The fields a shard range may hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardField {
    Uid,
    Namespace,
}

/// A parsed `shardSelector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSelector {
    /// `(field, start, end)`: keep when `start <= hash < end`; `end` may be 2^64.
    ranges: Vec<(ShardField, u64, u128)>,
}

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl ShardSelector {
    /// Whether an object with this uid and namespace belongs to the shard.
    pub fn matches(&self, uid: &str, namespace: &str) -> bool {
        self.ranges.iter().any(|(field, start, end)| {
            let v = match field {
                ShardField::Uid => uid,
                ShardField::Namespace => namespace,
            };
            let h = fnv1a64(v.as_bytes());
            *start <= h && u128::from(h) < *end
        })
    }

    /// Parse a selector; the error is the message after `invalid shard selector: `.
    pub fn parse(s: &str) -> Result<Self, String> {
        let tokens = lex(s)?;
        let mut p = Parser { t: &tokens, i: 0 };
        let mut ranges = vec![p.call()?];
        while p.eat(&Tok::Or) {
            ranges.push(p.call()?);
        }
        if p.i != tokens.len() {
            return Err(format!("CEL parse error: Syntax error: extraneous input '{}'", tokens[p.i].text()));
        }
        Ok(Self { ranges })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    LParen,
    RParen,
    Comma,
    Dot,
    Or,
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Num(s) => s.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Comma => ",".into(),
            Tok::Dot => ".".into(),
            Tok::Or => "||".into(),
        }
    }
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' | '.' => {
                out.push(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    _ => Tok::Dot,
                });
                i += 1;
            }
            '|' if chars.get(i + 1).is_some_and(|n| n.1 == '|') => {
                out.push(Tok::Or);
                i += 2;
            }
            '\'' | '"' => {
                let end = chars[i + 1..].iter().position(|(_, d)| *d == c);
                match end {
                    Some(n) => {
                        out.push(Tok::Str(chars[i + 1..i + 1 + n].iter().map(|x| x.1).collect()));
                        i += n + 2;
                    }
                    // As CEL's lexer reports an unterminated string: everything from the quote on.
                    None => {
                        return Err(format!(
                            "CEL parse error: Syntax error: token recognition error at: '{}'",
                            &s[at..]
                        ));
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let n = chars[i..].iter().take_while(|(_, d)| d.is_ascii_alphanumeric() || *d == '_').count();
                out.push(Tok::Ident(chars[i..i + n].iter().map(|x| x.1).collect()));
                i += n;
            }
            c if c.is_ascii_digit() => {
                let n = chars[i..].iter().take_while(|(_, d)| d.is_ascii_alphanumeric()).count();
                out.push(Tok::Num(chars[i..i + n].iter().map(|x| x.1).collect()));
                i += n;
            }
            _ => return Err(format!("CEL parse error: Syntax error: token recognition error at: '{c}'")),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
}

impl Parser<'_> {
    fn eat(&mut self, want: &Tok) -> bool {
        if self.t.get(self.i) == Some(want) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, want: Tok) -> Result<(), String> {
        if self.eat(&want) {
            return Ok(());
        }
        let found = self.t.get(self.i).map_or("<EOF>".to_string(), Tok::text);
        Err(format!("CEL parse error: Syntax error: mismatched input '{found}' expecting '{}'", want.text()))
    }

    fn string(&mut self) -> Result<String, String> {
        match self.t.get(self.i) {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(s.clone())
            }
            other => Err(format!(
                "shardRange arguments 2 and 3 must be string literals, got {}",
                other.map_or("<EOF>".to_string(), Tok::text)
            )),
        }
    }

    /// `shardRange(<path>, '<hex>', '<hex>')`
    fn call(&mut self) -> Result<(ShardField, u64, u128), String> {
        match self.t.get(self.i) {
            Some(Tok::Ident(f)) if f == "shardRange" => self.i += 1,
            other => {
                return Err(format!(
                    "unsupported expression: expected shardRange(...), got {}",
                    other.map_or("<EOF>".to_string(), Tok::text)
                ));
            }
        }
        self.expect(Tok::LParen)?;
        let mut path = Vec::new();
        loop {
            match self.t.get(self.i) {
                Some(Tok::Ident(s)) => {
                    path.push(s.clone());
                    self.i += 1;
                }
                other => {
                    return Err(format!(
                        "shardRange argument 1 must be a field path, got {}",
                        other.map_or("<EOF>".to_string(), Tok::text)
                    ));
                }
            }
            if !self.eat(&Tok::Dot) {
                break;
            }
        }
        self.expect(Tok::Comma)?;
        let start = self.string()?;
        self.expect(Tok::Comma)?;
        let end = self.string()?;
        self.expect(Tok::RParen)?;
        let path = path.join(".");
        let field = match path.as_str() {
            "object.metadata.uid" => ShardField::Uid,
            "object.metadata.namespace" => ShardField::Namespace,
            _ => {
                return Err(format!(
                    "unsupported field path \"{path}\"; supported: object.metadata.uid, object.metadata.namespace"
                ));
            }
        };
        // Only an end may be 2^64, so a start fits in 64 bits.
        let s = u64::try_from(hex_bound("hexStart", &start, false)?).unwrap_or(u64::MAX);
        let e = hex_bound("hexEnd", &end, true)?;
        if u128::from(s) >= e {
            return Err(format!("shard range start {start} must be less than end {end}"));
        }
        Ok((field, s, e))
    }
}

/// A `0x`-prefixed 16-digit hex bound; `0x10000000000000000` (2^64) is allowed as an end.
fn hex_bound(what: &str, v: &str, end: bool) -> Result<u128, String> {
    if end && v == "0x10000000000000000" {
        return Ok(1u128 << 64);
    }
    let Some(digits) = v.strip_prefix("0x") else {
        return Err(format!("{what} must be a 0x-prefixed 16-digit hex value, got \"{v}\""));
    };
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("{what}: invalid hex character \"{bad}\" in \"{v}\""));
    }
    if digits.len() != 16 {
        let hint = if digits.len() < 16 { format!(" (did you mean \"0x{digits:0>16}\"?)") } else { String::new() };
        return Err(format!("{what} must be a 0x-prefixed 16-digit hex value, got \"{v}\"{hint}"));
    }
    u64::from_str_radix(digits, 16).map(u128::from).map_err(|e| format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S0: &str = "shardRange(object.metadata.uid, '0x0000000000000000', '0x8000000000000000')";
    const S1: &str = "shardRange(object.metadata.uid, '0x8000000000000000', '0x10000000000000000')";

    fn hex(v: u64) -> String {
        format!("0x{v:016x}")
    }

    /// uid, FNV-1a 64 of it, and the half a real v1.36.2 server put it in.
    const TABLE: &[(&str, u64, u8)] = &[
        ("f737757c-2039-4296-bc26-c58e937513fb", 0x2a8dde50798f53d3, 0),
        ("2f66078c-bc05-4136-b9ac-5b7d93da2f40", 0x3797fcd70745a2bb, 0),
        ("744b1311-5e18-410c-91f8-28c0b41a39fc", 0x376a64e1caa317db, 0),
        ("d221fba3-5326-40ff-923f-679a77cab12f", 0xabdafcbcbcc69992, 1),
        ("4213bc4e-a7d0-4260-8235-285210970d34", 0x177ab1ed146a02f6, 0),
        ("6fd34764-dfef-449d-a6fb-370f1204b43b", 0x673453205e720a28, 0),
        ("036ca225-72df-4f02-9a41-a1a910fed6af", 0x02b22ad6cdb7d6ea, 0),
        ("41491050-8fa2-4d61-9d5b-be019fcb1510", 0xb169682b402c37c6, 1),
        ("b46e14d4-fc24-4a09-8e99-0eaaa9ae8a86", 0xcb53af4ffa881cbf, 1),
        ("c83de938-d538-4568-82dc-52f765eab3d4", 0xa8bf3dfb868b9c58, 1),
        ("42cc9180-116a-4a7d-ae10-b5e09e12db38", 0xecbc79f00e8af8d3, 1),
        ("f500ea91-a4ed-4a37-aacd-84f04cae6a7c", 0xfbcce43cad13f1d4, 1),
        ("6c2b5d29-8eee-456a-ba33-dbddbc5e4303", 0xf6b77560369451b5, 1),
        ("7a299db0-7d19-4c08-95a3-570b71310133", 0x045682c7cbd3ec34, 0),
        ("7aedb9f0-6a9f-49c3-8851-6802428ce6c9", 0x320d4ba1b7daa3c6, 0),
        ("979c8df7-24b5-4d2f-b009-634098681608", 0x66db4ad290686c43, 0),
    ];

    #[test]
    fn hashes_and_halves_match_the_real_servers_split() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        let (s0, s1) = (ShardSelector::parse(S0).unwrap(), ShardSelector::parse(S1).unwrap());
        let both = ShardSelector::parse(&format!("{S0} || {S1}")).unwrap();
        for (uid, hash, half) in TABLE {
            assert_eq!(fnv1a64(uid.as_bytes()), *hash, "{uid}");
            assert_eq!((s0.matches(uid, "x"), s1.matches(uid, "x")), (*half == 0, *half == 1), "{uid}");
            assert!(both.matches(uid, "x"));
        }
        // Ranges are half-open; the namespace field hashes the namespace.
        let h = fnv1a64(b"shop");
        let exact =
            ShardSelector::parse(&format!("shardRange(object.metadata.namespace, '{}', '{}')", hex(h), hex(h + 1)))
                .unwrap();
        assert!(exact.matches("any", "shop") && !exact.matches("any", "data"));
        let below =
            ShardSelector::parse(&format!("shardRange(object.metadata.namespace, '0x0000000000000000', '{}')", hex(h)))
                .unwrap();
        assert!(!below.matches("any", "shop"));
    }

    #[test]
    fn malformed_selectors_get_the_real_servers_messages() {
        let err = |s: &str| ShardSelector::parse(s).unwrap_err();
        assert_eq!(
            err("shardRange(object.metadata.name,'0x0','0x1')"),
            "unsupported field path \"object.metadata.name\"; supported: object.metadata.uid, object.metadata.namespace"
        );
        assert_eq!(
            err("shardRange(object.metadata.uid, '0x00000000000000zz', '0x8000000000000000')"),
            "hexStart: invalid hex character \"z\" in \"0x00000000000000zz\""
        );
        assert_eq!(
            err("shardRange(object.metadata.uid, '0x0000000000000000, '0x8000000000000000')"),
            "CEL parse error: Syntax error: token recognition error at: '')'"
        );
        assert_eq!(
            err("shardRange(object.metadata.uid, '0x0', '0x8000000000000000')"),
            "hexStart must be a 0x-prefixed 16-digit hex value, got \"0x0\" (did you mean \"0x0000000000000000\"?)"
        );
        assert_eq!(
            err("shardRange(object.metadata.uid, '0x8000000000000000', '0x0000000000000000')"),
            "shard range start 0x8000000000000000 must be less than end 0x0000000000000000"
        );
        assert!(
            err("shardRange(object.metadata.uid, '0x10000000000000000', '0x10000000000000000')")
                .starts_with("hexStart")
        );
        assert!(err(&format!("{S0} ||")).starts_with("unsupported expression"));
        assert!(err(&format!("{S0} {S1}")).starts_with("CEL parse error"));
    }
}
