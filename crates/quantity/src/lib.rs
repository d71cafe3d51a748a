//! Kubernetes `resource.Quantity` (k8s.io/apimachinery `pkg/api/resource`) with Go's exact
//! semantics: parsing (including its quirks), canonical `String()`, `Value()` / `MilliValue()` /
//! `ScaledValue()` (rounded away from zero, saturating at the int64 limits), and
//! `AsApproximateFloat64()`.
//!
//! Values are kept exactly as `mantissa × 10^exponent` with an arbitrary-precision mantissa, never as
//! floating point. Which of Go's two internal representations a value would have (the int64 fast
//! path or `inf.Dec`) is remembered too, because `AsApproximateFloat64` depends on it.
//!
//! Followed apimachinery version: the current one (int64 results saturate instead of wrapping,
//! DecimalSI beyond `E` prints as `e<N>`), with `maxInt64Factors = 18` as in the v0.3x releases.
//! Deliberate limits, where Go would spend unbounded time or memory: a BinarySI quantity above
//! 10^4096 prints as DecimalSI, and [`Quantity::add`] of operands more than 4096 decimal places apart
//! returns the larger one; exponents are not wrapped to int32 after parsing.

use std::cmp::Ordering;
use std::fmt;

use num_bigint::{BigInt, Sign};

mod go_float;

/// How a quantity is printed (Go `resource.Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// e.g. `12e6`
    DecimalExponent,
    /// e.g. `12Mi` (12 × 2^20)
    BinarySI,
    /// e.g. `12M` (12 × 10^6)
    DecimalSI,
}

/// Why a string is not a quantity; the messages are Go's error texts.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum ParseError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// Go's `Scale` constants, for [`Quantity::scaled_value`] and [`Quantity::new_scaled`].
pub mod scale {
    pub const NANO: i32 = -9;
    pub const MICRO: i32 = -6;
    pub const MILLI: i32 = -3;
    pub const KILO: i32 = 3;
    pub const MEGA: i32 = 6;
    pub const GIGA: i32 = 9;
    pub const TERA: i32 = 12;
    pub const PETA: i32 = 15;
    pub const EXA: i32 = 18;
}

/// A Kubernetes quantity. Equality and ordering compare values (Go `Cmp`), not spelling.
#[derive(Clone, Debug)]
pub struct Quantity {
    mantissa: BigInt,
    exponent: i64,
    /// Go would hold this value as an `inf.Dec` (rounded to nano) rather than an int64 amount.
    dec: bool,
    format: Format,
    /// The parsed text when Go keeps it for `String()` (its `s` field).
    cached: Option<String>,
}

/// Largest exponent gap [`Quantity::add`] and the BinarySI printer will expand digit by digit; far
/// beyond anything a Kubernetes object holds, it only bounds work on hostile input.
const MAX_EXPANSION: u64 = 4096;

impl Quantity {
    /// Go `resource.ParseQuantity`: no whitespace trimming, `"0"` special-cased, binary SI capped at
    /// 2^63-1, values finer than 1n rounded away from zero to nano.
    pub fn parse(s: &str) -> Result<Quantity, ParseError> {
        if s.is_empty() {
            return Err(ParseError::FormatWrong);
        }
        if s == "0" {
            return Ok(Quantity { cached: Some("0".to_owned()), ..Quantity::zero(Format::DecimalSI) });
        }
        let p = scan(s)?;
        let (base, exp, mut format) = interpret_suffix(p.suffix).ok_or(ParseError::Suffix)?;

        // Go's int64 fast path; its results keep an int64 representation and sometimes the text.
        let mut scale: i64 = 0;
        let mut multiplier: i64 = 1;
        let precision: i64 = match format {
            Format::DecimalExponent | Format::DecimalSI => {
                scale = i64::from(exp);
                MAX_INT64_FACTORS - (p.num.len() + p.denom.len()) as i64
            }
            Format::BinarySI if exp >= 0 && p.denom.is_empty() => {
                multiplier = 1i64 << exp;
                15 - p.num.len() as i64 - i64::from(exp) * 3 / 10 - 1
            }
            Format::BinarySI => -1,
        };
        if precision >= 0 {
            scale -= p.denom.len() as i64;
            if scale >= i64::from(scale::NANO) {
                let shifted = format!("{}{}", p.num, p.denom);
                let value: i64 = shifted.parse().map_err(|_| ParseError::Numeric)?;
                if let Some(mut result) = value.checked_mul(multiplier) {
                    if !p.positive {
                        result = -result;
                    }
                    let keep_text = match format {
                        Format::BinarySI => exp % 10 == 0 && value & 0x07 != 0,
                        _ => scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0'),
                    };
                    return Ok(Quantity {
                        mantissa: BigInt::from(result),
                        exponent: scale,
                        dec: false,
                        format,
                        cached: keep_text.then(|| s.to_owned()),
                    });
                }
            }
        }

        // Go's inf.Dec path, fed with the numeric text including sign and leading zeros.
        if !p.value.bytes().any(|b| b.is_ascii_digit()) {
            return Err(ParseError::Numeric);
        }
        let digits = format!("{}{}", p.num, p.denom);
        let mut mantissa: BigInt = digits.parse().map_err(|_| ParseError::Numeric)?;
        let mut exponent = -(p.denom.len() as i64);
        if base == 10 {
            exponent += i64::from(exp);
        } else {
            mantissa <<= exp as usize;
        }
        if mantissa.sign() != Sign::NoSign {
            if exponent < i64::from(scale::NANO) {
                mantissa = div_pow10_away(&mantissa, (i64::from(scale::NANO) - exponent) as u64);
                exponent = i64::from(scale::NANO);
            }
            if format == Format::BinarySI {
                let max = BigInt::from(i64::MAX);
                if cmp_parts(&mantissa, exponent, &max, 0) == Ordering::Greater {
                    mantissa = max;
                    exponent = 0;
                }
                if cmp_parts(&mantissa, exponent, &BigInt::from(1), 0) == Ordering::Less {
                    format = Format::DecimalSI;
                }
            }
        }
        if !p.positive {
            mantissa = -mantissa;
        }
        Ok(Quantity { mantissa, exponent, dec: true, format, cached: None })
    }

    /// [`Quantity::parse`] after trimming surrounding whitespace, as Go's `UnmarshalJSON` does for
    /// quantities inside API objects.
    pub fn parse_trimmed(s: &str) -> Result<Quantity, ParseError> {
        Quantity::parse(s.trim())
    }

    /// Go `resource.NewQuantity(value, format)`.
    pub fn new(value: i64, format: Format) -> Quantity {
        Quantity::from_parts(value, 0, format)
    }

    /// Go `resource.NewMilliQuantity(value, format)`: value / 1000.
    pub fn new_milli(value: i64, format: Format) -> Quantity {
        Quantity::from_parts(value, scale::MILLI, format)
    }

    /// Go `resource.NewScaledQuantity(value, scale)`: value × 10^scale, DecimalSI.
    pub fn new_scaled(value: i64, scale: i32) -> Quantity {
        Quantity::from_parts(value, scale, Format::DecimalSI)
    }

    /// value × 10^scale with the given format (Go: `NewScaledQuantity` then setting `Format`).
    pub fn from_parts(value: i64, scale: i32, format: Format) -> Quantity {
        Quantity { mantissa: BigInt::from(value), exponent: i64::from(scale), dec: false, format, cached: None }
    }

    fn zero(format: Format) -> Quantity {
        Quantity { mantissa: BigInt::ZERO, exponent: 0, dec: false, format, cached: None }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa.sign() == Sign::NoSign
    }

    /// -1, 0 or 1.
    pub fn sign(&self) -> i32 {
        match self.mantissa.sign() {
            Sign::Minus => -1,
            Sign::NoSign => 0,
            Sign::Plus => 1,
        }
    }

    /// Go `Value()`: the value rounded away from zero to an integer, saturating at the int64 limits.
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// Go `MilliValue()`: ceil(value × 1000) away from zero, saturating at the int64 limits.
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(scale::MILLI)
    }

    /// Go `ScaledValue(scale)`: value / 10^scale rounded away from zero, saturating at the int64
    /// limits (e.g. `new(1, DecimalSI).scaled_value(MILLI)` is 1000).
    pub fn scaled_value(&self, scale: i32) -> i64 {
        if self.is_zero() {
            return 0;
        }
        let shift = self.exponent - i64::from(scale);
        let exact = if shift >= 0 {
            // 10^19 alone exceeds int64.
            if shift >= 19 {
                return saturate(self.sign());
            }
            &self.mantissa * BigInt::from(10u8).pow(shift as u32)
        } else {
            div_pow10_away(&self.mantissa, shift.unsigned_abs())
        };
        i64::try_from(&exact).unwrap_or_else(|_| saturate(self.sign()))
    }

    /// The float64 nearest to the exact value (±Inf beyond the float range).
    pub fn to_f64(&self) -> f64 {
        format!("{}e{}", self.mantissa, self.exponent).parse().unwrap_or(f64::NAN)
    }

    /// Go `AsApproximateFloat64()`: float64(mantissa) × `math.Pow10(exponent)` on Go's internal
    /// representation, which can differ from [`Quantity::to_f64`] in the last bit (e.g. `"0.3"` →
    /// 0.30000000000000004). kube-state-metrics' custom-resource metrics use this one.
    pub fn as_approximate_f64(&self) -> f64 {
        if self.is_zero() {
            return 0.0;
        }
        if self.dec {
            // Go holds unscaled × 10^-9; big.Float rounds the unscaled integer to nearest-even.
            let base: f64 =
                format!("{}e{}", self.mantissa, self.exponent - i64::from(scale::NANO)).parse().unwrap_or(f64::NAN);
            return base * go_float::pow10(scale::NANO.into());
        }
        let base = i64::try_from(&self.mantissa).map(|v| v as f64).unwrap_or(f64::NAN);
        if self.exponent == 0 { base } else { base * go_float::pow10(self.exponent) }
    }

    /// Go `Add`: exact sum; a zero receiver takes the other's format.
    pub fn add(&self, other: &Quantity) -> Quantity {
        if other.is_zero() {
            return Quantity { cached: None, ..self.clone() };
        }
        if self.is_zero() {
            return Quantity { cached: None, format: other.format, ..other.clone() };
        }
        let exponent = self.exponent.min(other.exponent);
        if (self.exponent - other.exponent).unsigned_abs() > MAX_EXPANSION {
            // Not supported exactly (the sum would need thousands of digits): keep the operand of
            // larger magnitude.
            let a = digit_count(&self.mantissa) + self.exponent;
            let b = digit_count(&other.mantissa) + other.exponent;
            let big = if a >= b { self } else { other };
            return Quantity { cached: None, format: self.format, ..big.clone() };
        }
        let widen = |q: &Quantity| &q.mantissa * BigInt::from(10u8).pow((q.exponent - exponent) as u32);
        let mantissa = widen(self) + widen(other);
        let dec = self.dec || other.dec || i64::try_from(&mantissa).is_err();
        Quantity { mantissa, exponent, dec, format: self.format, cached: None }
    }

    /// Go's canonical form, ignoring a text kept from parsing (what `String()` prints for
    /// quantities that were computed rather than parsed).
    pub fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".to_owned();
        }
        let mut format = self.format;
        let mut rounded: Option<BigInt> = None;
        if format == Format::BinarySI {
            let small = cmp_parts(&self.mantissa, self.exponent, &BigInt::from(-1024), 0) == Ordering::Greater
                && cmp_parts(&self.mantissa, self.exponent, &BigInt::from(1024), 0) == Ordering::Less;
            if small || self.exponent > MAX_EXPANSION as i64 {
                format = Format::DecimalSI;
            } else if self.exponent >= 0 {
                rounded = Some(&self.mantissa * BigInt::from(10u8).pow(self.exponent as u32));
            } else {
                let down = self.exponent.unsigned_abs();
                let r = div_pow10_away(&self.mantissa, down);
                // Exact iff the rounded integer scales back to the same value.
                if cmp_parts(&r, 0, &self.mantissa, self.exponent) == Ordering::Equal {
                    rounded = Some(r);
                } else {
                    format = Format::DecimalSI;
                }
            }
        }
        if let (Format::BinarySI, Some(int)) = (format, rounded) {
            let (number, times) = remove_factors(int, 1024);
            let suffix = match times {
                1 => "Ki",
                2 => "Mi",
                3 => "Gi",
                4 => "Ti",
                5 => "Pi",
                6 => "Ei",
                // Go finds no suffix for 2^0 or beyond Ei and prints none.
                _ => "",
            };
            return format!("{number}{suffix}");
        }
        let (mut number, times) = remove_factors(self.mantissa.clone(), 10);
        let mut exponent = self.exponent + times;
        // Lower the exponent to a multiple of three.
        let r = exponent.rem_euclid(3);
        if r != 0 {
            number *= if r == 1 { 10 } else { 100 };
            exponent -= r;
        }
        let si = match exponent {
            -9 => Some("n"),
            -6 => Some("u"),
            -3 => Some("m"),
            0 => Some(""),
            3 => Some("k"),
            6 => Some("M"),
            9 => Some("G"),
            12 => Some("T"),
            15 => Some("P"),
            18 => Some("E"),
            _ => None,
        };
        match (format, si) {
            (Format::DecimalSI, Some(s)) => format!("{number}{s}"),
            // DecimalExponent, and DecimalSI outside n..E, which Go prints as a decimal exponent.
            _ if exponent == 0 => number.to_string(),
            _ => format!("{number}e{exponent}"),
        }
    }
}

/// Go's `maxInt64Factors`: numbers with more digits skip the int64 fast path.
const MAX_INT64_FACTORS: i64 = 18;

fn saturate(sign: i32) -> i64 {
    if sign < 0 { i64::MIN } else { i64::MAX }
}

/// `m / 10^k` rounded away from zero.
fn div_pow10_away(m: &BigInt, k: u64) -> BigInt {
    if k == 0 {
        return m.clone();
    }
    if k >= m.bits() {
        // 10^k > 2^k >= 2^bits > |m|: only the rounding unit is left.
        return match m.sign() {
            Sign::Minus => BigInt::from(-1),
            Sign::NoSign => BigInt::ZERO,
            Sign::Plus => BigInt::from(1),
        };
    }
    let divisor = BigInt::from(10u8).pow(k as u32);
    let q = m / &divisor;
    let r = m % &divisor;
    match r.sign() {
        Sign::NoSign => q,
        Sign::Plus => q + 1,
        Sign::Minus => q - 1,
    }
}

/// Divides out `factor` while it divides evenly; returns the rest and the count.
fn remove_factors(mut v: BigInt, factor: u32) -> (BigInt, i64) {
    let f = BigInt::from(factor);
    let mut times = 0;
    while v.sign() != Sign::NoSign && (&v % &f).sign() == Sign::NoSign {
        v /= &f;
        times += 1;
    }
    (v, times)
}

/// Number of decimal digits of |m| (0 for zero).
fn digit_count(m: &BigInt) -> i64 {
    if m.sign() == Sign::NoSign { 0 } else { m.magnitude().to_string().len() as i64 }
}

/// Compares a×10^ea with b×10^eb without expanding huge exponent gaps.
fn cmp_parts(a: &BigInt, ea: i64, b: &BigInt, eb: i64) -> Ordering {
    let (sa, sb) = (a.sign(), b.sign());
    if sa != sb || sa == Sign::NoSign {
        let rank = |s: Sign| match s {
            Sign::Minus => -1,
            Sign::NoSign => 0,
            Sign::Plus => 1,
        };
        return rank(sa).cmp(&rank(sb));
    }
    // Same non-zero sign: compare magnitudes, by order of magnitude first.
    let (ma, mb) = (digit_count(a) + ea, digit_count(b) + eb);
    let abs_order = if ma != mb {
        ma.cmp(&mb)
    } else {
        // The gap is now at most the digit count of one mantissa.
        let e = ea.min(eb);
        let ten = BigInt::from(10u8);
        let x = a.magnitude() * ten.magnitude().pow((ea - e) as u32);
        let y = b.magnitude() * ten.magnitude().pow((eb - e) as u32);
        x.cmp(&y)
    };
    if sa == Sign::Minus { abs_order.reverse() } else { abs_order }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_parts(&self.mantissa, self.exponent, &other.mantissa, other.exponent)
    }
}

/// Go `String()`: the parsed text where Go keeps it, otherwise [`Quantity::canonical`].
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cached {
            Some(s) => f.write_str(s),
            None => f.write_str(&self.canonical()),
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

/// metrics-server's CPU usage string: nanocores as a DecimalSI quantity of scale -9 (one digit is
/// dropped above int64, as its `uint64Quantity` does), e.g. 187654321 → `"187654321n"`.
pub fn format_cpu_nanocores(n: u64) -> String {
    uint64_quantity(n, Format::DecimalSI, scale::NANO).canonical()
}

/// metrics-server's memory usage string: bytes as a BinarySI quantity, e.g. 12533760 → `"12240Ki"`,
/// 600 → `"600"`, 1000 → `"1k"` (below 1024 Go prints BinarySI as DecimalSI).
pub fn format_bytes_binary(bytes: u64) -> String {
    uint64_quantity(bytes, Format::BinarySI, 0).canonical()
}

fn uint64_quantity(v: u64, format: Format, scale: i32) -> Quantity {
    match i64::try_from(v) {
        Ok(v) => Quantity::from_parts(v, scale, format),
        // Lose one decimal digit to fit an int64 (u64::MAX / 10 always fits).
        Err(_) => Quantity::from_parts((v / 10) as i64, scale + 1, format),
    }
}

/// The pieces of Go's `parseQuantityString`.
struct Scanned<'a> {
    positive: bool,
    /// Sign, leading zeros and digits as written (Go feeds this to `inf.Dec`).
    value: &'a str,
    /// Integer digits without leading zeros (`"0"` if none).
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// Go's `parseQuantityString`: a byte scanner, permissive about the suffix (checked later).
fn scan(s: &str) -> Result<Scanned<'_>, ParseError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut out = Scanned { positive: true, value: "", num: "", denom: "", suffix: "" };
    let mut pos = 0;
    match b.first() {
        Some(b'-') => {
            out.positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        out.num = "0";
        out.value = "0";
        return Ok(out);
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        out.num = &s[start..];
        out.value = s;
        return Ok(out);
    }
    out.num = if pos == start { "0" } else { &s[start..pos] };
    if b[pos] == b'.' {
        pos += 1;
        let dstart = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        out.denom = &s[dstart..pos];
        if pos >= end {
            out.value = s;
            return Ok(out);
        }
    }
    out.value = &s[..pos];
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(ParseError::FormatWrong);
    }
    out.suffix = &s[suffix_start..];
    Ok(out)
}

/// Go's suffix table: (base, exponent, format), or `None` for an unknown suffix.
fn interpret_suffix(s: &str) -> Option<(u32, i32, Format)> {
    let dec = |e| Some((10, e, Format::DecimalSI));
    let bin = |e| Some((2, e, Format::BinarySI));
    match s {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            // strconv.ParseInt(s[1:], 10, 64), then a plain int32 conversion (wraps, like Go).
            let digits = &s[1..];
            let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let parsed: i64 = digits.parse().ok()?;
            Some((10, parsed as i32, Format::DecimalExponent))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
