//! Vectors from k8s.io/apimachinery's quantity tests and Go's documented behaviour.

use super::*;

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// value = m × 10^e, with the given format.
fn is(s: &str, m: i128, e: i64, format: Format) {
    let got = q(s);
    let want = Quantity { mantissa: BigInt::from(m), exponent: e, dec: false, format, cached: None };
    assert_eq!(got, want, "{s}: value {got:?}");
    assert_eq!(got.format(), format, "{s}: format");
}

#[test]
fn parses_the_upstream_table() {
    use Format::*;
    for s in ["0", "0n", "0u", "0m", "0k", "0M", "0G", "0T"] {
        is(s, 0, 0, DecimalSI);
    }
    for s in ["0Ki", "0Mi", "0Gi", "0Ti"] {
        is(s, 0, 0, BinarySI);
    }
    let cases: &[(&str, i128, i64, Format)] = &[
        ("1", 1, 0, DecimalSI),
        ("1Ki", 1024, 0, BinarySI),
        ("8Ki", 8 * 1024, 0, BinarySI),
        ("7Mi", 7 << 20, 0, BinarySI),
        ("6Gi", 6 << 30, 0, BinarySI),
        ("5Ti", 5 << 40, 0, BinarySI),
        ("4Pi", 4 << 50, 0, BinarySI),
        ("3Ei", 3 << 60, 0, BinarySI),
        ("10Ti", 10 << 40, 0, BinarySI),
        ("100Ti", 100 << 40, 0, BinarySI),
        ("5n", 5, -9, DecimalSI),
        ("4u", 4, -6, DecimalSI),
        ("3m", 3, -3, DecimalSI),
        ("9", 9, 0, DecimalSI),
        ("8k", 8, 3, DecimalSI),
        ("50k", 5, 4, DecimalSI),
        ("7M", 7, 6, DecimalSI),
        ("6G", 6, 9, DecimalSI),
        ("5T", 5, 12, DecimalSI),
        ("40T", 4, 13, DecimalSI),
        ("300T", 3, 14, DecimalSI),
        ("2P", 2, 15, DecimalSI),
        ("1E", 1, 18, DecimalSI),
        ("1E-3", 1, -3, DecimalExponent),
        ("1e3", 1, 3, DecimalExponent),
        ("1E6", 1, 6, DecimalExponent),
        ("1e9", 1, 9, DecimalExponent),
        ("1E12", 1, 12, DecimalExponent),
        ("1e15", 1, 15, DecimalExponent),
        ("1E18", 1, 18, DecimalExponent),
        ("1e14", 1, 14, DecimalExponent),
        ("1e13", 1, 13, DecimalExponent),
        ("100.035k", 100035, 0, DecimalSI),
        ("0.001", 1, -3, DecimalSI),
        ("0.0005k", 5, -1, DecimalSI),
        ("0.005", 5, -3, DecimalSI),
        ("0.05", 5, -2, DecimalSI),
        ("0.5", 5, -1, DecimalSI),
        ("0.00050k", 5, -1, DecimalSI),
        ("0.00500", 5, -3, DecimalSI),
        ("0.05000", 5, -2, DecimalSI),
        ("0.50000", 5, -1, DecimalSI),
        ("0.5e0", 5, -1, DecimalExponent),
        ("0.5e-1", 5, -2, DecimalExponent),
        ("0.5e-2", 5, -3, DecimalExponent),
        ("10.035M", 10035, 3, DecimalSI),
        ("1.2e3", 12, 2, DecimalExponent),
        ("1.3E+6", 13, 5, DecimalExponent),
        ("1.40e9", 14, 8, DecimalExponent),
        ("1.53E12", 153, 10, DecimalExponent),
        ("1.6e15", 16, 14, DecimalExponent),
        ("1.7E18", 17, 17, DecimalExponent),
        ("9.01", 901, -2, DecimalSI),
        ("8.1k", 81, 2, DecimalSI),
        ("7.123456M", 7123456, 0, DecimalSI),
        ("6.987654321G", 6987654321, 0, DecimalSI),
        ("5.444T", 5444, 9, DecimalSI),
        ("40.1T", 401, 11, DecimalSI),
        ("300.2T", 3002, 11, DecimalSI),
        ("2.5P", 25, 14, DecimalSI),
        ("1.01E", 101, 16, DecimalSI),
        // Rounded away from zero to nano.
        ("3.001n", 4, -9, DecimalSI),
        ("1.1E-9", 2, -9, DecimalExponent),
        ("0.0000000001", 1, -9, DecimalSI),
        ("0.0000000005", 1, -9, DecimalSI),
        ("0.00000000050", 1, -9, DecimalSI),
        ("0.5e-9", 1, -9, DecimalExponent),
        ("0.9n", 1, -9, DecimalSI),
        ("0.00000012345", 124, -9, DecimalSI),
        ("0.00000012354", 124, -9, DecimalSI),
        // Binary SI is capped at 2^63-1.
        ("9Ei", i64::MAX as i128, 0, BinarySI),
        ("8Ei", i64::MAX as i128, 0, BinarySI),
        ("9223372036854775807Ki", i64::MAX as i128, 0, BinarySI),
        ("12E", 12, 18, DecimalSI),
        ("100.035Ki", 10243584, -2, BinarySI),
        ("0.5Mi", 512 * 1024, 0, BinarySI),
        ("0.05Gi", 536870912, -1, BinarySI),
        ("0.025Ti", 274877906944, -1, BinarySI),
        ("0.000000000001Ki", 2, -9, DecimalSI),
        (".001", 1, -3, DecimalSI),
        (".0001k", 100, -3, DecimalSI),
        ("1.", 1, 0, DecimalSI),
        ("1.G", 1, 9, DecimalSI),
        // Decimal quantities are not capped.
        ("18446744073709551616", 18446744073709551616, 0, DecimalSI),
        ("123456789012345678901234567890", 123456789012345678901234567890, 0, DecimalSI),
        // Go quirks: a lone sign or dot is zero.
        ("-", 0, 0, DecimalSI),
        ("+", 0, 0, DecimalSI),
        (".", 0, 0, DecimalSI),
        ("-Ki", 0, 0, BinarySI),
        (".Ki", 0, 0, BinarySI),
        ("00", 0, 0, DecimalSI),
    ];
    for &(s, m, e, f) in cases {
        is(s, m, e, f);
        if m != 0 {
            // The same with explicit signs.
            let neg = q(&format!("-{s}"));
            assert_eq!(neg.sign(), -1, "-{s}");
            assert_eq!(neg.mantissa.magnitude(), q(s).mantissa.magnitude(), "-{s}");
            assert_eq!(neg.format(), f, "-{s}: format");
            assert_eq!(q(&format!("+{s}")), q(s), "+{s}");
        }
    }
}

#[test]
fn rejects_what_go_rejects_with_its_errors() {
    let cases: &[(&str, ParseError)] = &[
        ("", ParseError::FormatWrong),
        ("1.1.M", ParseError::FormatWrong),
        ("1+1.0M", ParseError::FormatWrong),
        ("0.1mi", ParseError::Suffix),
        ("0.1am", ParseError::FormatWrong),
        ("aoeu", ParseError::FormatWrong),
        (".5i", ParseError::Suffix),
        ("1i", ParseError::Suffix),
        ("-3.01i", ParseError::Suffix),
        ("-3.01e-", ParseError::Suffix),
        (" 1", ParseError::FormatWrong),
        ("1 ", ParseError::FormatWrong),
        ("1e", ParseError::Suffix),
        ("1ee3", ParseError::Suffix),
        ("1Ki5", ParseError::Suffix),
        ("1e3k", ParseError::FormatWrong),
        ("1e99999999999999999999", ParseError::Suffix),
        ("1KI", ParseError::FormatWrong),
        ("1kb", ParseError::FormatWrong),
        ("--1", ParseError::Suffix),
        ("1.5é", ParseError::FormatWrong),
        // inf.Dec needs a digit on the slow path.
        ("+.e-20", ParseError::Numeric),
        (".e-10", ParseError::Numeric),
    ];
    for &(s, want) in cases {
        assert_eq!(Quantity::parse(s).map(|q| q.to_string()), Err(want), "{s:?}");
    }
    assert_eq!(
        ParseError::FormatWrong.to_string(),
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    assert_eq!(ParseError::Numeric.to_string(), "unable to parse numeric part of quantity");
    assert_eq!(ParseError::Suffix.to_string(), "unable to parse quantity's suffix");
}

#[test]
fn canonical_strings_from_the_upstream_table() {
    use Format::*;
    let f = |m: i64, e: i32, fmt: Format| Quantity::from_parts(m, e, fmt);
    let cases: &[(Quantity, &str)] = &[
        (f(1 << 30, 0, BinarySI), "1Gi"),
        (f(300 << 20, 0, BinarySI), "300Mi"),
        (f(6 * 1024, 0, BinarySI), "6Ki"),
        (f(1001 << 30, 0, BinarySI), "1001Gi"),
        (f(1 << 40, 0, BinarySI), "1Ti"),
        (f(5, 0, BinarySI), "5"),
        (f(500, -3, BinarySI), "500m"),
        (f(1, 9, DecimalSI), "1G"),
        (f(1000, 6, DecimalSI), "1G"),
        (f(1000000, 3, DecimalSI), "1G"),
        (f(1000000000, 0, DecimalSI), "1G"),
        (f(1, -3, DecimalSI), "1m"),
        (f(80, -3, DecimalSI), "80m"),
        (f(1080, -3, DecimalSI), "1080m"),
        (f(108, -2, DecimalSI), "1080m"),
        (f(10800, -4, DecimalSI), "1080m"),
        (f(300, 6, DecimalSI), "300M"),
        (f(1, 12, DecimalSI), "1T"),
        (f(1234567, 6, DecimalSI), "1234567M"),
        (f(1234567, -3, BinarySI), "1234567m"),
        (f(3, 3, DecimalSI), "3k"),
        (f(1025, 0, BinarySI), "1025"),
        (f(0, 0, DecimalSI), "0"),
        (f(0, 0, BinarySI), "0"),
        (f(1, 9, DecimalExponent), "1e9"),
        (f(1, -3, DecimalExponent), "1e-3"),
        (f(1, -9, DecimalExponent), "1e-9"),
        (f(80, -3, DecimalExponent), "80e-3"),
        (f(300, 6, DecimalExponent), "300e6"),
        (f(1, 12, DecimalExponent), "1e12"),
        (f(1, 3, DecimalExponent), "1e3"),
        (f(3, 3, DecimalExponent), "3e3"),
        (f(0, 0, DecimalExponent), "0"),
        (f(1, -9, DecimalSI), "1n"),
        (f(80, -9, DecimalSI), "80n"),
        (f(1080, -9, DecimalSI), "1080n"),
        (f(108, -8, DecimalSI), "1080n"),
        (f(10800, -10, DecimalSI), "1080n"),
        (f(1, -6, DecimalSI), "1u"),
        (f(80, -6, DecimalSI), "80u"),
        (f(1080, -6, DecimalSI), "1080u"),
        // NewQuantity / NewMilliQuantity / NewScaledQuantity tables.
        (Quantity::new(1000, DecimalSI), "1k"),
        (Quantity::new(1234000, DecimalSI), "1234k"),
        (Quantity::new(1024, BinarySI), "1Ki"),
        (Quantity::new(1 << 20, BinarySI), "1Mi"),
        (Quantity::new(1000000, DecimalExponent), "1e6"),
        (Quantity::new_milli(1, DecimalSI), "1m"),
        (Quantity::new_milli(1000, DecimalSI), "1"),
        (Quantity::new_milli(1234000, DecimalSI), "1234"),
        (Quantity::new_milli(1024, BinarySI), "1024m"),
        (Quantity::new_milli(1000000, DecimalExponent), "1e3"),
        (Quantity::new_milli(1 << 20, BinarySI), "1048576m"),
        (Quantity::new_scaled(1000, scale::NANO), "1u"),
        (Quantity::new_scaled(1000, scale::MICRO), "1m"),
        (Quantity::new_scaled(0, scale::NANO), "0"),
        // Beyond E, DecimalSI falls back to an exponent; below n too.
        (f(1, 21, DecimalSI), "1e21"),
        (f(1, -12, DecimalSI), "1e-12"),
        (f(-1, -12, DecimalSI), "-1e-12"),
    ];
    for (quantity, want) in cases {
        assert_eq!(quantity.to_string(), *want, "{quantity:?}");
        assert_eq!(quantity.canonical(), *want, "{quantity:?}");
        if !quantity.is_zero() && !want.starts_with('-') {
            let neg = Quantity { mantissa: -quantity.mantissa.clone(), ..quantity.clone() };
            assert_eq!(neg.to_string(), format!("-{want}"), "{neg:?}");
        }
        // Canonical text parses back to the same value and is kept verbatim (except values finer
        // than a nano, which parsing rounds).
        if want.ends_with("e-12") {
            assert_eq!(q(want).to_string(), if want.starts_with('-') { "-1e-9" } else { "1e-9" });
            continue;
        }
        let back = q(want);
        assert_eq!(&back, quantity, "{want}");
        assert_eq!(back.to_string(), *want);
        assert_eq!(back.cached.as_deref(), Some(*want), "{want} should be kept as parsed");
    }
}

#[test]
fn parsed_strings_print_like_go_string() {
    let cases = [
        // Non-canonical spellings are re-emitted canonically...
        ("1024Mi", "1Gi"),
        ("307200Ki", "300Mi"),
        ("1025024Mi", "1001Gi"),
        ("1024Gi", "1Ti"),
        ("5000m", "5"),
        ("0.5", "500m"),
        ("1000M", "1G"),
        ("0.001T", "1G"),
        ("1000u", "1m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        (".001e12", "1e9"),
        ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"),
        ("00", "0"),
        ("1Ki", "1Ki"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("1.5Gi", "1536Mi"),
        ("1e3", "1e3"),
        ("1e2", "100"),
        ("1000", "1k"),
        ("1.000", "1"),
        ("2048Ki", "2Mi"),
        ("1536Ki", "1536Ki"),
        ("0.5Ki", "512"),
        ("1.1Ki", "1126400m"),
        ("1000E", "1e21"),
        ("12E", "12E"),
        ("-", "0"),
        // ...but Go keeps the text itself when it looks canonical enough, quirks included.
        ("1.500", "1.500"),
        ("12.345", "12.345"),
        ("+1", "+1"),
        ("01", "01"),
        ("+5Ki", "+5Ki"),
        ("1E3", "1E3"),
        ("100m", "100m"),
        ("0", "0"),
        ("9Ei", "9223372036854775807"),
    ];
    for (input, want) in cases {
        assert_eq!(q(input).to_string(), want, "{input}");
    }
    // Negative versions of the ParseEmit table.
    for (input, want) in [("1Ki", "-1Ki"), ("1024Mi", "-1Gi"), (".001Ki", "-1024m"), (".000000000001Ki", "-2n")] {
        assert_eq!(q(&format!("-{input}")).to_string(), want);
    }
}

#[test]
fn metrics_server_cpu_strings() {
    let cases = [
        (0u64, "0"),
        (187654321, "187654321n"),
        (20000, "20u"),
        (2000000, "2m"),
        (500000000, "500m"),
        (1000000000, "1"),
        (2500000000, "2500m"),
        (12000000000, "12"),
        (2345678, "2345678n"),
        (1, "1n"),
        (1000, "1u"),
        (10, "10n"),
        (1000000000000, "1k"),
        (i64::MAX as u64, "9223372036854775807n"),
        // Above int64 one digit is dropped (scale -8), as metrics-server's uint64Quantity does.
        (u64::MAX, "18446744073709551610n"),
        (9223372036854775808, "9223372036854775800n"),
    ];
    for (n, want) in cases {
        assert_eq!(format_cpu_nanocores(n), want, "{n}");
    }
}

#[test]
fn metrics_server_memory_strings() {
    let cases = [
        (0u64, "0"),
        (600, "600"),
        (12533760, "12240Ki"),
        (1616273408, "1578392Ki"),
        (2097152, "2Mi"),
        (1073741824, "1Gi"),
        (1000001, "1000001"),
        // Below 1024 BinarySI prints as DecimalSI, so round thousands get SI suffixes.
        (1000, "1k"),
        (1023, "1023"),
        (1024, "1Ki"),
        (1010, "1010"),
        (1536, "1536"),
        (1 << 60, "1Ei"),
        (i64::MAX as u64, "9223372036854775807"),
        (u64::MAX, "18446744073709551610"),
        (1 << 63, "9223372036854775800"),
    ];
    for (n, want) in cases {
        assert_eq!(format_bytes_binary(n), want, "{n}");
    }
}

#[test]
fn value_and_milli_value_round_away_from_zero() {
    let cases: &[(&str, i64, i64)] = &[
        ("0", 0, 0),
        ("1", 1, 1000),
        ("1.5", 2, 1500),
        ("-1.5", -2, -1500),
        ("250m", 1, 250),
        ("-250m", -1, -250),
        ("1n", 1, 1),
        ("-1n", -1, -1),
        ("1500001n", 1, 2),
        ("100M", 100000000, 100000000000),
        ("1Gi", 1073741824, 1073741824000),
        ("1.5Gi", 1610612736, 1610612736000),
        ("0.1Ki", 103, 102400),
        ("200m", 1, 200),
        ("1e-3", 1, 1),
        ("1e-20", 1, 1),
        ("-1e-20", -1, -1),
        ("123456789012345678901234567890e-25", 12346, 12345679),
    ];
    for &(s, value, milli) in cases {
        let quantity = q(s);
        assert_eq!(quantity.value(), value, "{s}: value");
        assert_eq!(quantity.milli_value(), milli, "{s}: milli");
    }
}

#[test]
fn int64_limits_saturate() {
    assert_eq!(q("9223372036854775807").value(), i64::MAX);
    assert_eq!(q("9223372036854775808").value(), i64::MAX);
    assert_eq!(q("-9223372036854775808").value(), i64::MIN);
    assert_eq!(q("-9223372036854775809").value(), i64::MIN);
    assert_eq!(q("1e30").value(), i64::MAX);
    assert_eq!(q("-1e30").value(), i64::MIN);
    assert_eq!(q("1e19").value(), i64::MAX);
    assert_eq!(q("9e18").value(), 9_000_000_000_000_000_000);
    assert_eq!(q("9223372036854775807").milli_value(), i64::MAX);
    assert_eq!(q("9223372036854775m").milli_value(), 9223372036854775);
    assert_eq!(q("9223372036854775.807").milli_value(), i64::MAX);
    assert_eq!(q("9223372036854775.808").milli_value(), i64::MAX);
    assert_eq!(q("8Ei").value(), i64::MAX);
    assert_eq!(q("1e2147483647").value(), i64::MAX);
    assert_eq!(q("1e-2147483648").value(), 1);
    // Go's inf.Dec path rounds it up to one nano before printing.
    assert_eq!(q("1e-2147483648").to_string(), "1e-9");
}

#[test]
fn scaled_value_matches_the_upstream_table() {
    let cases = [
        (scale::NANO, scale::NANO, 1),
        (scale::NANO, scale::MICRO, 1),
        (scale::NANO, scale::MILLI, 1),
        (scale::NANO, 0, 1),
        (scale::MICRO, scale::NANO, 1000),
        (scale::MICRO, scale::MICRO, 1),
        (scale::MICRO, scale::MILLI, 1),
        (scale::MICRO, 0, 1),
        (scale::MILLI, scale::NANO, 1000 * 1000),
        (scale::MILLI, scale::MICRO, 1000),
        (scale::MILLI, scale::MILLI, 1),
        (scale::MILLI, 0, 1),
        (0, scale::NANO, 1000 * 1000 * 1000),
        (0, scale::MICRO, 1000 * 1000),
        (0, scale::MILLI, 1000),
        (0, 0, 1),
        (2, -2, 100 * 100),
    ];
    for (from, to, want) in cases {
        assert_eq!(Quantity::new_scaled(1, from).scaled_value(to), want, "{from} -> {to}");
    }
    assert_eq!(q("1.5Gi").scaled_value(scale::GIGA), 2);
    assert_eq!(q("1500M").scaled_value(scale::GIGA), 2);
}

#[test]
fn floats_nearest_and_go_approximate() {
    let cases: &[(&str, f64, f64)] = &[
        ("1G", 1e9, 1e9),
        ("250m", 0.25, 0.25),
        ("1Gi", 1073741824.0, 1073741824.0),
        // inf.Dec path: unscaled nanos times Pow10(-9).
        ("1.5Gi", 1610612736.0, 1610612736e9 * 1e-9),
        ("100M", 1e8, 1e8),
        ("5", 5.0, 5.0),
        ("-2.5", -2.5, -2.5),
        // Go multiplies by a float power of ten, which is not always the nearest double.
        ("0.3", 0.3, 3.0 * 0.1),
        ("1e-3", 0.001, 1.0 * 0.001),
        ("4.35", 4.35, 435.0 * 0.01),
        ("1e400", f64::INFINITY, f64::INFINITY),
        ("1e-400", 1e-9, 1e-9),
        ("123456789012345678901234567890", 1.2345678901234568e29, 1.2345678901234568e38 * 1e-9),
    ];
    for &(s, nearest, approx) in cases {
        let quantity = q(s);
        assert_eq!(quantity.to_f64(), nearest, "{s}: to_f64");
        assert_eq!(quantity.as_approximate_f64(), approx, "{s}: approx");
    }
    assert_ne!(q("0.3").as_approximate_f64(), q("0.3").to_f64());
    assert_eq!(q("0").to_f64(), 0.0);
    assert_eq!(q("1e-2147483648").to_f64(), 1e-9);
}

#[test]
fn add_sums_exactly_and_takes_format_from_a_zero_receiver() {
    let sum = q("10m").add(&q("15Mi"));
    assert_eq!(sum, q("15728640010m"));
    assert_eq!(sum.format(), Format::DecimalSI);
    let pods = q("0").add(&q("5Mi")).add(&q("10Mi"));
    assert_eq!(pods.to_string(), "15Mi");
    assert_eq!(q("10m").add(&q("10m")).to_string(), "20m");
    assert_eq!(q("1").add(&q("-1")).to_string(), "0");
    assert_eq!(q("100m").add(&q("0")).to_string(), "100m");
    assert_eq!(q("9223372036854775807").add(&q("1")).to_string(), "9223372036854775808");
    // Equality compares values.
    assert_eq!(q("1k"), q("1000"));
    assert!(q("1Ki") > q("1k"));
    assert!(q("-1") < q("1n"));
    assert_eq!(q("1e-2147483648"), q("1n"));
}

#[test]
fn display_and_from_str_round_trip() {
    let parsed: Quantity = "1.5Gi".parse().unwrap();
    assert_eq!(parsed.to_string(), "1536Mi");
    assert_eq!(Quantity::parse_trimmed(" 1Gi\n").unwrap().to_string(), "1Gi");
    assert!(Quantity::parse(" 1Gi").is_err());
}

/// xorshift64* for the fuzz test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn parse_never_panics_and_results_are_consistent() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let alphabet = b"0123456789.+-eEinumkKMGTP ";
    for i in 0..40_000 {
        let len = (rng.next() % 14) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = rng.next();
                if i % 4 == 0 { r as u8 } else { alphabet[(r % alphabet.len() as u64) as usize] }
            })
            .collect();
        let s = String::from_utf8_lossy(&bytes);
        if let Ok(quantity) = Quantity::parse(&s) {
            // Whatever parses prints, and its canonical form parses back to the same value.
            let canonical = quantity.canonical();
            let back = Quantity::parse(&canonical).unwrap_or_else(|e| panic!("{s:?} -> {canonical:?}: {e}"));
            assert_eq!(back, quantity, "{s:?} -> {canonical:?}");
            let _ = (quantity.to_string(), quantity.value(), quantity.milli_value(), quantity.to_f64());
            let _ = quantity.as_approximate_f64();
        }
    }
}
