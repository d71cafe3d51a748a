//! Sample values the way kube-state-metrics' `writeFloat` prints them.

use std::io::Write;

/// Appends `v` the way Go's `strconv.AppendFloat(v, 'g', -1, 64)` does, with the special cases
/// kube-state-metrics applies first (`1`, `0` (also for -0), `-1`, `NaN`, `+Inf`, `-Inf`).
pub fn write_float(out: &mut Vec<u8>, v: f64) {
    if v == 1.0 {
        out.push(b'1');
    } else if v == 0.0 {
        out.push(b'0');
    } else if v == -1.0 {
        out.extend_from_slice(b"-1");
    } else if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if v.fract() == 0.0 && v.abs() < MAX_EXACT {
        // Integers (counts below a million, Unix timestamps above) are nearly every value a scrape
        // writes: their digits are printed directly, without a search for the shortest form.
        write_integer(out, v as i64);
    } else {
        go_g(out, v);
    }
}

/// 2^53: below it every integer is a double and doubles are at most 1 apart, so an integer's shortest
/// round-tripping digits are its own decimal digits without trailing zeros.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// `n` as Go's `%g` prints the double it came from: plain below 10^6, else `d.ddde+XX`.
fn write_integer(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    let digits = &buf[at..];
    if n < 0 {
        out.push(b'-');
    }
    if digits.len() <= 6 {
        out.extend_from_slice(digits);
        return;
    }
    let exp = digits.len() - 1;
    let kept = digits.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
    out.push(digits[0]);
    if kept > 1 {
        out.push(b'.');
        out.extend_from_slice(&digits[1..kept]);
    }
    out.extend_from_slice(b"e+");
    if exp < 10 {
        out.push(b'0');
    }
    let _ = write!(out, "{exp}");
}

/// Go `%g` with shortest precision: exponent form iff the decimal exponent is < -4 or >= 6.
/// Rust's `{}` never switches to exponent form and `{:e}` always does, so the choice is made here;
/// both give the shortest round-tripping digits (closest to the exact value on ties), like Go.
fn go_g(out: &mut Vec<u8>, v: f64) {
    let sci = format!("{v:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    if (-4..6).contains(&exp) {
        let _ = write!(out, "{v}");
    } else {
        out.extend_from_slice(mantissa.as_bytes());
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.unsigned_abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        let mut b = Vec::new();
        write_float(&mut b, v);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn integers_take_a_shortcut_to_the_same_text() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values: Vec<f64> = vec![1e6, 999_999.0, 1_000_001.0, 1.5e9, 1e15, 9_007_199_254_740_991.0];
        for _ in 0..20_000 {
            let bits = next();
            // Integers of every magnitude below 2^53, and round ones (trailing zeros) too.
            let n = (bits >> (11 + bits % 53)) as f64;
            values.extend([n, -n, (n / 1000.0).floor() * 1000.0]);
        }
        for v in values.into_iter().filter(|v| v.abs() < MAX_EXACT && *v != 0.0 && v.abs() != 1.0) {
            let mut slow = Vec::new();
            go_g(&mut slow, v);
            assert_eq!(f(v), String::from_utf8(slow).unwrap(), "formatting {v}");
        }
    }

    #[test]
    fn go_float_formatting_matches_the_spec_table() {
        let cases: &[(f64, &str)] = &[
            (0.2, "0.2"),
            (4.3, "4.3"),
            (555.0, "555"),
            (1000.0, "1000"),
            (11111.0, "11111"),
            (123456.0, "123456"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e8, "1e+08"),
            (3e8, "3e+08"),
            (1073741824.0, "1.073741824e+09"),
            (1.5e9, "1.5e+09"),
            (1501777018.0, "1.501777018e+09"),
            (1520762400.0, "1.5207624e+09"),
            (9007199254740992.0, "9.007199254740992e+15"),
            (-62135596800.0, "-6.21355968e+10"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (137.0, "137"),
        ];
        for (v, want) in cases {
            assert_eq!(f(*v), *want, "formatting {v:?}");
        }
    }

    #[test]
    fn special_values_and_go_edge_cases() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "0"),
            (-1.0, "-1"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e100, "1e+100"),
            (-1e100, "-1e+100"),
            (1.5e-300, "1.5e-300"),
            (1e21, "1e+21"),
            (1e-7, "1e-07"),
            (-0.5, "-0.5"),
            (-999999.0, "-999999"),
            (-1e6, "-1e+06"),
            (0.30000000000000004, "0.30000000000000004"),
            (100000.5, "100000.5"),
            (999999.5, "999999.5"),
            (0.00012345, "0.00012345"),
            (0.000012345, "1.2345e-05"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN, "-1.7976931348623157e+308"),
            (123456789.0, "1.23456789e+08"),
            (2.5, "2.5"),
            (12345.678, "12345.678"),
            (9.223372036854776e18, "9.223372036854776e+18"),
        ];
        for (v, want) in cases {
            assert_eq!(f(*v), *want, "formatting {v:?}");
        }
    }

    /// xorshift64*: deterministic, dependency-free randomness for the property test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    /// Independent model of Go's shortest `%g`: checks the printed text's shape, the exponent
    /// threshold, that it parses back to the same bits, and that one digit fewer never round-trips.
    fn check_against_model(v: f64) {
        let s = f(v);
        if v == 1.0 || v == -1.0 || v == 0.0 || !v.is_finite() {
            return;
        }
        let back: f64 = s.parse().unwrap_or_else(|_| panic!("{s} does not parse"));
        assert_eq!(back.to_bits(), v.to_bits(), "{s} does not round-trip {v:e}");

        let body = s.strip_prefix('-').unwrap_or(&s);
        assert_eq!(s.starts_with('-'), v < 0.0, "{s}: sign");
        let (mant, exp_part) = match body.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (body, None),
        };
        // Significant digits and the decimal exponent of the first one.
        let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
        assert!(int_part.bytes().all(|b| b.is_ascii_digit()) && !int_part.is_empty(), "{s}: integer part");
        assert!(frac_part.bytes().all(|b| b.is_ascii_digit()), "{s}: fraction part");
        if mant.contains('.') {
            assert!(!frac_part.is_empty() && !frac_part.ends_with('0'), "{s}: trailing zero in fraction");
        }
        let all: String = format!("{int_part}{frac_part}");
        let lead = all.bytes().take_while(|&b| b == b'0').count();
        let digits = all[lead..].trim_end_matches('0');
        assert!(!digits.is_empty(), "{s}: no significant digit");
        let mut x = int_part.len() as i32 - 1 - lead as i32;
        match exp_part {
            Some(e) => {
                assert_eq!(int_part.len(), 1, "{s}: exponent form has one leading digit");
                assert_ne!(int_part, "0", "{s}: exponent form mantissa starts non-zero");
                let (sign, num) = e.split_at(1);
                assert!(sign == "+" || sign == "-", "{s}: exponent sign");
                assert!(num.len() >= 2 && num.bytes().all(|b| b.is_ascii_digit()), "{s}: exponent digits");
                assert!(num.len() == 2 || !num.starts_with('0'), "{s}: exponent zero padding");
                let n: i32 = num.parse().unwrap();
                x = if sign == "-" { -n } else { n };
                assert!(!(-4..6).contains(&x), "{s}: exponent form used for exponent {x}");
            }
            None => {
                assert!(int_part.len() == 1 || !int_part.starts_with('0'), "{s}: leading zero");
                assert!((-4..6).contains(&x), "{s}: fixed form used for exponent {x}");
            }
        }
        // Shortest: with one significant digit fewer no decimal rounds back to v.
        if digits.len() > 1 {
            let shorter = format!("{:.*e}", digits.len() - 2, v);
            let parsed: f64 = shorter.parse().unwrap();
            assert_ne!(parsed.to_bits(), v.to_bits(), "{s} is not shortest: {shorter} also round-trips");
        }
        // The exponent matches the value's magnitude.
        let lower = format!("{}e{}", &digits[..1], x).parse::<f64>().unwrap();
        assert!(lower <= v.abs() * (1.0 + 1e-15), "{s}: exponent {x} too large");
    }

    #[test]
    fn random_values_match_the_go_model() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..60_000u32 {
            let r = rng.next();
            let v = match i % 6 {
                0 => f64::from_bits(r),
                // Subnormals.
                1 => f64::from_bits(r & 0x800f_ffff_ffff_ffff),
                // Integers such as byte counts and timestamps.
                2 => (r >> (r % 60)) as f64,
                // Short decimals such as quantities in cores.
                3 => (r % 1_000_000) as f64 / [1.0, 10.0, 100.0, 1000.0, 1e9][(r % 5) as usize],
                // Values around the fixed/exponent switch points.
                4 => {
                    let e = (r % 14) as i32 - 7;
                    (1.0 + (r >> 20) as f64 / (1u64 << 44) as f64) * 10f64.powi(e)
                }
                _ => -f64::from_bits(r >> 1),
            };
            check_against_model(v);
        }
    }
}
