//! The label-selector grammar: a small lexer and a recursive-descent parser over its tokens.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use crate::ParseError;

/// What a requirement asks of one label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `k=v` or `k==v`.
    Equals(String),
    /// `k!=v`; also true when the label is absent.
    NotEquals(String),
    /// `k in (a,b)`; `()` means the one empty value.
    In(BTreeSet<String>),
    /// `k notin (a,b)`; also true when the label is absent.
    NotIn(BTreeSet<String>),
    /// `k`.
    Exists,
    /// `!k`.
    DoesNotExist,
    /// `k>n`: the label is an integer greater than `n`.
    GreaterThan(i64),
    /// `k<n`: the label is an integer less than `n`.
    LessThan(i64),
}

/// One comma-separated term of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
}

impl Requirement {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> &Operator {
        &self.op
    }

    /// Whether `value` (the label's value, `None` when absent) satisfies this requirement.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match &self.op {
            Operator::Equals(x) => value == Some(x.as_str()),
            Operator::NotEquals(x) => value != Some(x.as_str()),
            Operator::In(xs) => value.is_some_and(|v| xs.contains(v)),
            Operator::NotIn(xs) => value.is_none_or(|v| !xs.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan(n) => value.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
            Operator::LessThan(n) => value.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
        }
    }
}

/// Something a label can be looked up in.
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// A list of pairs; the first pair with the key wins.
impl Labels for [(String, String)] {
    fn label(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl Labels for Vec<(String, String)> {
    fn label(&self, key: &str) -> Option<&str> {
        self.as_slice().label(key)
    }
}

impl Labels for [(&str, &str)] {
    fn label(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// A parsed label selector: the AND of its requirements; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Sorted by key (stable, so same-key requirements keep their written order).
    reqs: Vec<Requirement>,
}

impl Selector {
    /// Parses a selector string; an all-whitespace string is the empty selector.
    pub fn parse(s: &str) -> Result<Selector, ParseError> {
        let mut p = Parser { lex: Lexer { s, pos: 0 } };
        let mut reqs = Vec::new();
        if p.lex.peek() == Tok::End {
            return Ok(Selector { reqs });
        }
        loop {
            reqs.push(p.requirement()?);
            match p.lex.next() {
                Tok::End => break,
                Tok::Comma => {}
                t => return Err(syntax(format!("found '{}', expected: ',' or 'end of string'", t.text()))),
            }
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector { reqs })
    }

    /// The AND of two selectors.
    pub fn and(mut self, other: &Selector) -> Selector {
        self.reqs.extend(other.reqs.iter().cloned());
        self.reqs.sort_by(|a, b| a.key.cmp(&b.key));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.reqs
    }

    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        self.reqs.iter().all(|r| r.matches_value(labels.label(&r.key)))
    }

    /// Matches with a lookup function, for label storage that is none of the [`Labels`] types.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.reqs.iter().all(|r| r.matches_value(get(&r.key)))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |f: &mut fmt::Formatter<'_>, word: &str, xs: &BTreeSet<String>| {
            write!(f, "{} {word} (", self.key)?;
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                f.write_str(x)?;
            }
            f.write_str(")")
        };
        match &self.op {
            Operator::Equals(v) => write!(f, "{}={v}", self.key),
            Operator::NotEquals(v) => write!(f, "{}!={v}", self.key),
            Operator::In(xs) => set(f, "in", xs),
            Operator::NotIn(xs) => set(f, "notin", xs),
            Operator::Exists => f.write_str(&self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::GreaterThan(n) => write!(f, "{}>{n}", self.key),
            Operator::LessThan(n) => write!(f, "{}<{n}", self.key),
        }
    }
}

/// The canonical form: requirements sorted by key, `==` written `=`, set values sorted.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.reqs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Selector {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Selector, ParseError> {
        Selector::parse(s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    End,
    Ident(&'a str),
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

impl Tok<'_> {
    fn text(&self) -> &str {
        match self {
            Tok::End => "end of string",
            Tok::Ident(s) => s,
            Tok::Bang => "!",
            Tok::Eq => "=",
            Tok::DoubleEq => "==",
            Tok::NotEq => "!=",
            Tok::Gt => ">",
            Tok::Lt => "<",
            Tok::Open => "(",
            Tok::Close => ")",
            Tok::Comma => ",",
        }
    }
}

/// The characters that end an identifier (besides whitespace).
fn special(c: char) -> bool {
    matches!(c, '!' | '=' | '>' | '<' | '(' | ')' | ',')
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Tok<'a> {
        let rest = &self.s[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let Some(c) = trimmed.chars().next() else {
            return Tok::End;
        };
        let two = |t: Tok<'a>, second: char, t2: Tok<'a>| {
            if trimmed[c.len_utf8()..].starts_with(second) { (t2, 2) } else { (t, 1) }
        };
        let (tok, len) = match c {
            '!' => two(Tok::Bang, '=', Tok::NotEq),
            '=' => two(Tok::Eq, '=', Tok::DoubleEq),
            '>' => (Tok::Gt, 1),
            '<' => (Tok::Lt, 1),
            '(' => (Tok::Open, 1),
            ')' => (Tok::Close, 1),
            ',' => (Tok::Comma, 1),
            _ => {
                let end = trimmed.find(|c: char| c.is_whitespace() || special(c)).unwrap_or(trimmed.len());
                (Tok::Ident(&trimmed[..end]), end)
            }
        };
        self.pos += len;
        tok
    }

    fn peek(&self) -> Tok<'a> {
        Lexer { s: self.s, pos: self.pos }.next()
    }
}

struct Parser<'a> {
    lex: Lexer<'a>,
}

fn syntax(msg: String) -> ParseError {
    ParseError::Syntax(msg)
}

impl Parser<'_> {
    fn requirement(&mut self) -> Result<Requirement, ParseError> {
        let key = match self.lex.next() {
            Tok::Bang => {
                let key = match self.lex.next() {
                    Tok::Ident(k) => k,
                    t => return Err(syntax(format!("found '{}', expected: identifier", t.text()))),
                };
                return Ok(Requirement { key: check_key(key)?, op: Operator::DoesNotExist });
            }
            Tok::Ident(k) => check_key(k)?,
            t => return Err(syntax(format!("found '{}', expected: !, identifier", t.text()))),
        };
        let op = match self.lex.peek() {
            Tok::End | Tok::Comma => Operator::Exists,
            _ => match self.lex.next() {
                Tok::Eq | Tok::DoubleEq => Operator::Equals(self.exact_value()?),
                Tok::NotEq => Operator::NotEquals(self.exact_value()?),
                Tok::Gt => Operator::GreaterThan(self.integer()?),
                Tok::Lt => Operator::LessThan(self.integer()?),
                Tok::Ident("in") => Operator::In(self.set()?),
                Tok::Ident("notin") => Operator::NotIn(self.set()?),
                t => {
                    return Err(syntax(format!("found '{}', expected: in, notin, =, ==, !=, gt, lt", t.text())));
                }
            },
        };
        Ok(Requirement { key, op })
    }

    /// The value after `=`, `==` or `!=`; nothing before `,` or the end is the empty value.
    fn exact_value(&mut self) -> Result<String, ParseError> {
        match self.lex.peek() {
            Tok::End | Tok::Comma => Ok(String::new()),
            Tok::Ident(v) => {
                self.lex.next();
                check_value(v)
            }
            t => Err(syntax(format!("found '{}', expected: identifier", t.text()))),
        }
    }

    fn integer(&mut self) -> Result<i64, ParseError> {
        match self.lex.next() {
            Tok::Ident(v) => v.parse().map_err(|_| ParseError::NotInteger(v.to_owned())),
            t => Err(ParseError::NotInteger(t.text().to_owned())),
        }
    }

    /// `( v , v ... )`; a missing value between separators is the empty value, so `()` is `{""}`.
    fn set(&mut self) -> Result<BTreeSet<String>, ParseError> {
        match self.lex.next() {
            Tok::Open => {}
            t => return Err(syntax(format!("found '{}', expected: '('", t.text()))),
        }
        let mut out = BTreeSet::new();
        loop {
            let value = match self.lex.peek() {
                Tok::Ident(v) => {
                    self.lex.next();
                    check_value(v)?
                }
                Tok::Comma | Tok::Close => String::new(),
                t => return Err(syntax(format!("found '{}', expected: ',', ')' or identifier", t.text()))),
            };
            out.insert(value);
            match self.lex.next() {
                Tok::Comma => {}
                Tok::Close => return Ok(out),
                t => return Err(syntax(format!("found '{}', expected: ',' or ')'", t.text()))),
            }
        }
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` labels joined by dots, at most 253 bytes.
fn dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// At most 63 bytes of `[-A-Za-z0-9_.]`, starting and ending alphanumeric.
fn name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A qualified name: `name` or `prefix/name` with a DNS-subdomain prefix.
pub(crate) fn valid_key(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => dns_subdomain(prefix) && name_part(name),
        None => name_part(k),
    }
}

fn valid_value(v: &str) -> bool {
    v.is_empty() || name_part(v)
}

fn check_key(k: &str) -> Result<String, ParseError> {
    if valid_key(k) { Ok(k.to_owned()) } else { Err(ParseError::Key(k.to_owned())) }
}

fn check_value(v: &str) -> Result<String, ParseError> {
    if valid_value(v) { Ok(v.to_owned()) } else { Err(ParseError::Value(v.to_owned())) }
}

#[cfg(test)]
mod tests;
