//! Number parsing and formatting exactly as Redis does it (`string2ll`, `string2ld`,
//! `%.17g`), because clients compare reply text.

/// Parses a signed 64-bit integer the way Redis's `string2ll` does: optional `-`, digits,
/// no leading zeros, no spaces, no `+`.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = if b[0] == b'-' {
        (true, &b[1..])
    } else {
        (false, b)
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a float the way Redis's `string2ld`/`getDoubleFromObject` accept it: no leading or
/// trailing spaces, `inf`/`-inf` allowed, NaN refused.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b.len() > 5000 {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    if s.starts_with(|c: char| c.is_whitespace()) || s.ends_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // strtod accepts hex floats and such; Rust's parser accepts the decimal forms.
            if lower.contains("nan") || lower.contains("inf") {
                return None;
            }
            match parse_hex_float(&lower) {
                Some(v) => v,
                None => s.parse::<f64>().ok()?,
            }
        }
    };
    if v.is_nan() { None } else { Some(v) }
}

/// strtod's hexadecimal form, `[+-]0x<hex>[.<hex>][p[+-]<dec>]` (Redis accepts "0x10" as
/// 16 in INCRBYFLOAT). None when `s` is not of that form.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest.strip_prefix("0x")?;
    let (mant, exp) = match rest.split_once('p') {
        Some((m, e)) => (m, Some(e)),
        None => (rest, None),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    if let Some(e) = exp {
        let e: i32 = e.parse().ok()?;
        v *= 2f64.powi(e);
    }
    Some(if neg { -v } else { v })
}

/// Formats like C's `printf("%.17g", d)`, which Redis 7.0 uses for doubles in replies
/// (ZSCORE, ZINCRBY, ...): `inf`, `-inf`, 17 significant digits, trailing zeros removed.
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g(d, 17)
}

/// C's `%.{precision}g`.
pub fn format_g(d: f64, precision: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, d);
    let (mantissa, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    if exp < -4 || exp >= p as i32 {
        let m = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Formats the result of INCRBYFLOAT/HINCRBYFLOAT like Redis's `ld2string(..., LD_STR_HUMAN)`:
/// fixed notation with up to 17 decimals, trailing zeros removed.
pub fn format_human(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{:.17}", d);
    let s = strip_zeros(&s);
    if s == "-0" { "0".into() } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
    }

    #[test]
    fn percent_17g() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(0.5), "0.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(123456789.0), "123456789");
    }

    #[test]
    fn human_float() {
        assert_eq!(format_human(10.5), "10.5");
        assert_eq!(format_human(3.0), "3");
        assert_eq!(format_human(5.0e3), "5000");
    }
}
