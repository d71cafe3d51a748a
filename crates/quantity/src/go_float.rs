//! Go's `math.Pow10`, which `AsApproximateFloat64` multiplies by: a product or quotient of two
//! table entries, so it is not always the float64 nearest to 10^n.

/// 10^n exactly as Go's `math.Pow10(n)` computes it.
pub(crate) fn pow10(n: i64) -> f64 {
    // Both tables hold correctly rounded literals, as Go's constant tables do.
    let lit = |e: i64| format!("1e{e}").parse::<f64>().unwrap_or(f64::NAN);
    if (0..=308).contains(&n) {
        lit(n / 32 * 32) * lit(n % 32)
    } else if (-323..0).contains(&n) {
        let m = -n;
        lit(-(m / 32 * 32)) / lit(m % 32)
    } else if n > 0 {
        f64::INFINITY
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::pow10;

    #[test]
    fn matches_go_table_arithmetic() {
        assert_eq!(pow10(0), 1.0);
        assert_eq!(pow10(3), 1000.0);
        assert_eq!(pow10(-3), 0.001);
        assert_eq!(pow10(-9), 1e-9);
        assert_eq!(pow10(308), 1e308);
        assert_eq!(pow10(309), f64::INFINITY);
        assert_eq!(pow10(-323), 1e-320 / 1e3);
        assert_eq!(pow10(-324), 0.0);
        // 1e32 × 1e5 rounds like Go's table product, whatever the nearest double is.
        assert_eq!(pow10(37), 1e32 * 1e5);
        assert_eq!(pow10(-40), 1e-32 / 1e8);
    }
}
