//! Turning dynamic values into sample values and label values the way upstream does.

use serde_json::Value;

/// Sample value of a gauge: see the conversion table in the module docs of `custom`.
pub fn to_f64(v: Option<&Value>, nil_is_zero: bool) -> Result<f64, String> {
    match v {
        None | Some(Value::Null) => {
            if nil_is_zero {
                Ok(0.0)
            } else {
                Err("expected number but found nil value".to_owned())
            }
        }
        Some(Value::Bool(b)) => Ok(if *b { 1.0 } else { 0.0 }),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("number {n} out of range")),
        Some(Value::String(s)) => string_to_f64(s),
        Some(other) => Err(format!("expected number but was {}", go_print(other))),
    }
}

fn string_to_f64(s: &str) -> Result<f64, String> {
    let lower = s.to_lowercase();
    match lower.as_str() {
        "true" | "yes" => return Ok(1.0),
        "false" | "no" | "unknown" => return Ok(0.0),
        _ => {}
    }
    // Upstream tries `time.Parse(time.RFC3339, …)` here: its `Unix()` seconds.
    if let Some((seconds, _)) = gocompat::rfc3339::parse(s) {
        return Ok(seconds as f64);
    }
    if let Ok(q) = quantity::Quantity::parse(s) {
        return Ok(q.as_approximate_f64());
    }
    // Only what apimachinery's IsValidPercent accepts, `[0-9]+%`: a sign or a fraction (`150.5%`)
    // falls through to the float parse below, which refuses it.
    if let Some(digits) = s.strip_suffix('%').filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
        return digits
            .parse::<f64>()
            .map(|f| f / 100.0)
            .map_err(|_| format!("strconv.ParseFloat: parsing {digits:?}: invalid syntax"));
    }
    parse_go_float(s).ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
}

/// Rust's float grammar is close to Go's `ParseFloat` for decimal text; Go's hex floats and
/// underscores are rare enough in resource fields to leave out.
fn parse_go_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// Go `fmt.Sprint` of an unstructured value (label values are rendered with `%v`). Kubernetes decodes
/// integral JSON numbers that fit an int64 as int64, so those print without exponent; any other number
/// (a fraction, or an integer beyond the int64 range) is a float64 and prints like one
/// (`12345678901234567890` → `1.2345678901234567e+19`).
pub fn go_print(v: &Value) -> String {
    let mut out = String::new();
    print_into(v, &mut out);
    out
}

fn print_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else {
                let mut buf = Vec::new();
                exposition::write_float(&mut buf, n.as_f64().unwrap_or(f64::NAN));
                out.push_str(&String::from_utf8_lossy(&buf));
            }
        }
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, el) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print_into(el, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            // Go prints maps with sorted keys.
            out.push_str("map[");
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (k, el)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                print_into(el, out);
            }
            out.push(']');
        }
    }
}
