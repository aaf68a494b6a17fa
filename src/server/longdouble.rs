//! Just enough x87 80-bit `long double` to answer INCRBYFLOAT as Redis does.
//!
//! Redis parses both operands with `strtold`, adds them in `long double` (64-bit mantissa)
//! and prints the sum with `%.17Lf` (trailing zeros removed). f64 gives different text
//! (`SET f 1000; INCRBYFLOAT f 0.1` is `1000.09999999999999998` in Redis), so this module
//! does the same steps exactly: correctly rounded decimal to binary conversion, an exactly
//! rounded addition and an exact binary to decimal conversion, on small big integers.

/// A finite long double: (-1)^neg × m × 2^e (m = 0 for zero), or infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ld {
    Finite { neg: bool, m: u64, e: i32 },
    Inf { neg: bool },
}

/// Little-endian base-2^32 unsigned big integer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }
    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }
    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
    fn bits(&self) -> i64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as i64 - 1) * 32 + (32 - top.leading_zeros() as i64),
        }
    }
    fn mul_small_add(&mut self, mul: u32, add: u32) {
        let mut carry = add as u64;
        for d in self.0.iter_mut() {
            let v = *d as u64 * mul as u64 + carry;
            *d = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }
    fn mul_pow10(&mut self, n: u32) {
        for _ in 0..n / 9 {
            self.mul_small_add(1_000_000_000, 0);
        }
        self.mul_small_add(10u32.pow(n % 9), 0);
    }
    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return self.clone();
        }
        let (words, bits) = ((n / 32) as usize, (n % 32) as u32);
        let mut v = vec![0u32; words];
        let mut carry = 0u32;
        for &d in &self.0 {
            if bits == 0 {
                v.push(d);
            } else {
                v.push((d << bits) | carry);
                carry = d >> (32 - bits);
            }
        }
        if carry > 0 {
            v.push(carry);
        }
        let mut b = Big(v);
        b.trim();
        b
    }
    /// (self >> n, whether any shifted-out bit was set, the highest shifted-out bit).
    fn bit(&self, i: u64) -> bool {
        let w = (i / 32) as usize;
        w < self.0.len() && (self.0[w] >> (i % 32)) & 1 == 1
    }
    fn cmp(&self, o: &Big) -> std::cmp::Ordering {
        self.0.len().cmp(&o.0.len()).then_with(|| {
            for (a, b) in self.0.iter().rev().zip(o.0.iter().rev()) {
                if a != b {
                    return a.cmp(b);
                }
            }
            std::cmp::Ordering::Equal
        })
    }
    /// self -= o (requires self >= o).
    fn sub(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = self.0[i] as i64 - borrow - *o.0.get(i).unwrap_or(&0) as i64;
            if v < 0 {
                self.0[i] = (v + (1i64 << 32)) as u32;
                borrow = 1;
            } else {
                self.0[i] = v as u32;
                borrow = 0;
            }
        }
        self.trim();
    }
    fn add(&self, o: &Big) -> Big {
        let mut v = Vec::with_capacity(self.0.len().max(o.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(o.0.len()) {
            let s = *self.0.get(i).unwrap_or(&0) as u64 + *o.0.get(i).unwrap_or(&0) as u64 + carry;
            v.push(s as u32);
            carry = s >> 32;
        }
        if carry > 0 {
            v.push(carry as u32);
        }
        let mut b = Big(v);
        b.trim();
        b
    }
    /// Decimal digits.
    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut v = self.0.clone();
        let mut chunks = Vec::new();
        while !v.is_empty() {
            let mut rem = 0u64;
            for d in v.iter_mut().rev() {
                let cur = (rem << 32) | *d as u64;
                *d = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            while v.last() == Some(&0) {
                v.pop();
            }
            chunks.push(rem as u32);
        }
        let mut s = chunks.pop().unwrap().to_string();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// Rounds n / d (n, d > 0) to the nearest long double (ties to even): (m, e).
/// None when it overflows the long double range.
fn round_ratio(n: &Big, d: &Big) -> Option<(u64, i32)> {
    // Choose k with 2^63 <= n * 2^k / d < 2^64.
    let mut k = 64 - (n.bits() - d.bits());
    loop {
        let (nn, dd) = if k >= 0 {
            (n.shl(k as u64), d.clone())
        } else {
            (n.clone(), d.shl((-k) as u64))
        };
        // Quotient by shift-subtract: it has at most 65 bits.
        let mut rem = nn;
        let mut q: u128 = 0;
        for bit in (0..=65u64).rev() {
            let shifted = dd.shl(bit);
            if rem.cmp(&shifted) != std::cmp::Ordering::Less {
                rem.sub(&shifted);
                q |= 1u128 << bit;
            }
        }
        if q >= 1u128 << 64 {
            k -= 1;
            continue;
        }
        if q < 1u128 << 63 {
            k += 1;
            continue;
        }
        let twice = rem.shl(1);
        let round_up = match twice.cmp(&dd) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => q & 1 == 1,
            std::cmp::Ordering::Less => false,
        };
        let mut q = q + round_up as u128;
        let mut e = -k;
        if q == 1u128 << 64 {
            q >>= 1;
            e += 1;
        }
        // Largest finite: 2^16384 - ulp; the mantissa spans 2^e .. 2^(e+64).
        if e + 64 > 16384 {
            return None;
        }
        if e + 64 < -16382 {
            return Some((0, 0));
        }
        return Some((q as u64, e as i32));
    }
}

/// Parses like `strtold` on a string Redis has already accepted (`string2ld`): decimal
/// with optional fraction and exponent, hex (`0x1.8p3`), `inf`/`infinity`. None when out
/// of the long double range (Redis rejects those: ERANGE).
pub fn parse(s: &str) -> Option<Ld> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = rest.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(Ld::Inf { neg });
    }
    let (mut mant, mut exp10, mut exp2) = (Big(Vec::new()), 0i64, 0i64);
    if let Some(hex) = lower.strip_prefix("0x") {
        let (digits, e) = match hex.split_once('p') {
            Some((d, e)) => (d, e.parse::<i64>().ok()?),
            None => (hex, 0),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        for c in int.chars().chain(frac.chars()) {
            mant.mul_small_add(16, c.to_digit(16)?);
        }
        exp2 = e - 4 * frac.len() as i64;
    } else {
        let (digits, e) = match lower.split_once('e') {
            Some((d, e)) => (d, e.parse::<i64>().ok()?),
            None => (lower.as_str(), 0),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        for c in int.chars().chain(frac.chars()) {
            mant.mul_small_add(10, c.to_digit(10)?);
        }
        exp10 = e - frac.len() as i64;
    }
    if mant.is_zero() {
        return Some(Ld::Finite { neg, m: 0, e: 0 });
    }
    // Out of range: strtold sets ERANGE (inf, or zero for underflow) and Redis's
    // string2ld rejects the string.
    if exp10 > 6000 || exp2 > 20000 || exp10 < -6000 || exp2 < -20000 {
        return None;
    }
    let (mut n, mut d) = (mant, Big::from_u64(1));
    if exp10 >= 0 {
        n.mul_pow10(exp10 as u32);
    } else {
        d.mul_pow10((-exp10) as u32);
    }
    if exp2 >= 0 {
        n = n.shl(exp2 as u64);
    } else {
        d = d.shl((-exp2) as u64);
    }
    match round_ratio(&n, &d) {
        Some((m, e)) if m != 0 => Some(Ld::Finite { neg, m, e }),
        _ => None,
    }
}

/// a + b rounded to long double; None for NaN (inf - inf).
pub fn add(a: Ld, b: Ld) -> Option<Ld> {
    match (a, b) {
        (Ld::Inf { neg: x }, Ld::Inf { neg: y }) => (x == y).then_some(a),
        (Ld::Inf { .. }, _) => Some(a),
        (_, Ld::Inf { .. }) => Some(b),
        (
            Ld::Finite {
                neg: na,
                m: ma,
                e: ea,
            },
            Ld::Finite {
                neg: nb,
                m: mb,
                e: eb,
            },
        ) => {
            if ma == 0 {
                return Some(if mb == 0 {
                    Ld::Finite {
                        neg: na && nb,
                        m: 0,
                        e: 0,
                    }
                } else {
                    b
                });
            }
            if mb == 0 {
                return Some(a);
            }
            let emin = ea.min(eb);
            let x = Big::from_u64(ma).shl((ea - emin) as u64);
            let y = Big::from_u64(mb).shl((eb - emin) as u64);
            let (neg, sum) = if na == nb {
                (na, x.add(&y))
            } else {
                match x.cmp(&y) {
                    std::cmp::Ordering::Equal => {
                        return Some(Ld::Finite {
                            neg: false,
                            m: 0,
                            e: 0,
                        });
                    }
                    std::cmp::Ordering::Greater => {
                        let mut s = x;
                        s.sub(&y);
                        (na, s)
                    }
                    std::cmp::Ordering::Less => {
                        let mut s = y;
                        s.sub(&x);
                        (nb, s)
                    }
                }
            };
            Some(match round_ratio(&sum, &Big::from_u64(1)) {
                Some((m, e)) if m == 0 => Ld::Finite { neg, m, e },
                Some((m, e)) => match e.checked_add(emin) {
                    Some(e) if e + 64 <= 16384 => Ld::Finite { neg, m, e },
                    _ => Ld::Inf { neg },
                },
                None => Ld::Inf { neg },
            })
        }
    }
}

/// Redis's `ld2string(.., LD_STR_HUMAN)`: `%.17Lf`, trailing zeros (and a bare '.')
/// removed, "-0" shown as "0". None for infinity.
pub fn format_human(v: Ld) -> Option<String> {
    let Ld::Finite { neg, m, e } = v else {
        return None;
    };
    const FRAC: u32 = 17;
    let mut scaled = Big::from_u64(m);
    scaled.mul_pow10(FRAC);
    let q = if e >= 0 {
        scaled.shl(e as u64)
    } else {
        let sh = (-e) as u64;
        // q = scaled >> sh, rounded to nearest, ties to even.
        let mut q = Big(Vec::new());
        let total = scaled.bits() as u64;
        if total > sh {
            // Shift right by building from bits (numbers here are small).
            let words = (sh / 32) as usize;
            let bits = (sh % 32) as u32;
            let mut v: Vec<u32> = scaled.0[words.min(scaled.0.len())..].to_vec();
            if bits > 0 {
                for i in 0..v.len() {
                    let hi = if i + 1 < v.len() {
                        v[i + 1] << (32 - bits)
                    } else {
                        0
                    };
                    v[i] = (v[i] >> bits) | hi;
                }
            }
            q = Big(v);
            q.trim();
        }
        let half = scaled.bit(sh - 1);
        let below = (0..sh - 1).any(|i| scaled.bit(i));
        let odd = !q.is_zero() && q.0[0] & 1 == 1;
        if half && (below || odd) {
            q = q.add(&Big::from_u64(1));
        }
        q
    };
    let mut digits = q.to_decimal();
    if digits.len() <= FRAC as usize {
        digits = format!("{}{}", "0".repeat(FRAC as usize + 1 - digits.len()), digits);
    }
    let (int, frac) = digits.split_at(digits.len() - FRAC as usize);
    let frac = frac.trim_end_matches('0');
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(int);
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    if s == "-0" {
        s = "0".into();
    }
    Some(s)
}

/// Parses a command argument or stored value as Redis's `string2ld` would (the rules of
/// `numbers::parse_f64`, then the exact long-double value); None when it is not a number.
pub fn parse_arg(b: &[u8]) -> Option<Ld> {
    // string2ld copies into a MAX_LONG_DOUBLE_CHARS (5 KB) buffer: longer strings are refused.
    if b.len() >= 5 * 1024 {
        return None;
    }
    crate::server::numbers::parse_f64(b)?;
    parse(std::str::from_utf8(b).ok()?)
}

/// Zero.
pub const ZERO: Ld = Ld::Finite {
    neg: false,
    m: 0,
    e: 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        format_human(add(parse(a).unwrap(), parse(b).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn matches_redis_incrbyfloat() {
        // Replies of redis-server 7.0.15 (x86-64).
        assert_eq!(incr("1000", "0.1"), "1000.09999999999999998");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("123456789", "0.1"), "123456789.09999999999854481");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("5.0e3", "1"), "5001");
        assert_eq!(incr("1e20", "1"), "100000000000000000000");
        assert_eq!(incr("-0.5", "0.5"), "0");
        assert_eq!(incr("3", "1e-20"), "3");
        assert_eq!(incr("9223372036854775807", "-2.5"), "9223372036854775804.5");
        assert_eq!(incr("0x10", "1"), "17");
        assert_eq!(incr("0", "-1.5"), "-1.5");
        assert_eq!(parse("92233720361e3775806"), None);
        assert_eq!(parse("1e-6000"), None);
        assert!(parse("1e4000").is_some());
    }
}
