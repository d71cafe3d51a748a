//! The field-selector grammar: `field=value`, `field==value`, `field!=value`, comma separated, with
//! `\\`, `\,` and `\=` escapes in values.

use std::fmt;

use crate::ParseError;

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    /// `true` for `=` / `==`, `false` for `!=`.
    pub equal: bool,
    /// Unescaped.
    pub value: String,
}

/// A parsed field selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    reqs: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses without knowing which fields exist; callers check [`FieldSelector::fields`] against
    /// what their resource supports. Field names and values are trimmed of surrounding whitespace.
    pub fn parse(s: &str) -> Result<FieldSelector, ParseError> {
        let mut reqs = Vec::new();
        for term in split_unescaped_commas(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let bad = || ParseError::FieldSyntax { selector: s.to_owned(), term: term.to_owned() };
            let (field, equal, raw) = split_term(term).ok_or_else(bad)?;
            let field = field.trim();
            // A name ending in `!` (as in `a! =b`) would be written back as the `!=` operator.
            if field.is_empty() || field.ends_with('!') {
                return Err(bad());
            }
            let value = unescape(raw.trim())?;
            reqs.push(FieldRequirement { field: field.to_owned(), equal, value });
        }
        Ok(FieldSelector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.reqs
    }

    /// The field names used, in written order (with repeats).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.reqs.iter().map(|r| r.field.as_str())
    }

    /// `get` returns a field's value; a field it does not know (`None`) compares as the empty
    /// string, as the API server's field sets leave unset fields empty.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.reqs.iter().all(|r| (get(&r.field).unwrap_or("") == r.value) == r.equal)
    }
}

/// Written back with the escapes the parser understands, so the text parses to the same selector.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.reqs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&r.field)?;
            f.write_str(if r.equal { "=" } else { "!=" })?;
            for c in r.value.chars() {
                if matches!(c, '\\' | ',' | '=') {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<FieldSelector, ParseError> {
        FieldSelector::parse(s)
    }
}

/// Splits on commas not preceded by an escaping backslash.
fn split_unescaped_commas(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// The first operator in the term, trying `!=` and `==` before `=` at each position.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, equal) in [("!=", false), ("==", true), ("=", true)] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], equal, value));
            }
        }
    }
    None
}

fn unescape(raw: &str) -> Result<String, ParseError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                _ => return Err(ParseError::FieldValue(raw.to_owned())),
            },
            ',' | '=' => return Err(ParseError::FieldValue(raw.to_owned())),
            _ => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(fields: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |k| fields.iter().find(|(f, _)| *f == k).map(|(_, v)| *v)
    }

    #[test]
    fn operators_and_missing_fields() {
        let f = [("metadata.name", "p1"), ("spec.nodeName", "n1")];
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches_with(get(&f));
        assert!(m("metadata.name=p1"));
        assert!(m("metadata.name==p1"));
        assert!(!m("metadata.name!=p1"));
        assert!(m("metadata.name=p1,spec.nodeName=n1"));
        assert!(!m("metadata.name=p1,spec.nodeName=n2"));
        // Unknown to `get` means empty.
        assert!(m("status.phase="));
        assert!(!m("status.phase!="));
        assert!(m(""));
        assert!(m(" , "));
        assert!(m(" metadata.name = p1 "));
    }

    #[test]
    fn fields_in_order() {
        let s = FieldSelector::parse("b=1,a!=2,b=3").unwrap();
        assert_eq!(s.fields().collect::<Vec<_>>(), ["b", "a", "b"]);
        assert_eq!(s.requirements()[1], FieldRequirement { field: "a".into(), equal: false, value: "2".into() });
    }

    #[test]
    fn syntax_errors() {
        let e = FieldSelector::parse("metadata.name=a,bogus").unwrap_err();
        assert_eq!(e.to_string(), "invalid selector: 'metadata.name=a,bogus'; can't understand 'bogus'");
        assert!(FieldSelector::parse("metadata.name").is_err());
        assert!(FieldSelector::parse("=x").is_err());
        assert!(FieldSelector::parse("a! ==b").is_err());
        // As upstream: `=` and `,` inside a value must be escaped, and only three escapes exist.
        assert!(matches!(FieldSelector::parse("a=b=c"), Err(ParseError::FieldValue(_))));
        assert!(matches!(FieldSelector::parse("a=b\\x"), Err(ParseError::FieldValue(_))));
        assert!(matches!(FieldSelector::parse("a=b\\"), Err(ParseError::FieldValue(_))));
    }

    #[test]
    fn escapes_round_trip() {
        let s = FieldSelector::parse("a=x\\,y\\=z\\\\,b!=").unwrap();
        assert_eq!(s.requirements()[0].value, "x,y=z\\");
        assert_eq!(s.requirements()[1].value, "");
        let text = s.to_string();
        assert_eq!(text, "a=x\\,y\\=z\\\\,b!=");
        assert_eq!(FieldSelector::parse(&text).unwrap(), s);
    }

    #[test]
    fn first_operator_wins() {
        let s = FieldSelector::parse("a!=b!c").unwrap();
        assert_eq!(s.requirements()[0], FieldRequirement { field: "a".into(), equal: false, value: "b!c".into() });
        let s = FieldSelector::parse("a==b").unwrap();
        assert_eq!(s.requirements()[0].value, "b");
    }
}
