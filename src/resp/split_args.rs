//! `split_args`: Redis's `sdssplitargs`, used for inline commands and redis.conf lines.
//!
//! Arguments are separated by whitespace; `"..."` understands `\n \r \t \b \a \\ \"` and
//! `\xHH`; `'...'` understands only `\'`. A closing quote must be followed by whitespace or
//! the end of the line.

/// Splits `line` into arguments; `None` when quotes are unbalanced (Redis's wording).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    c if is_space(c) => {
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect()
        })
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(s("set k v").unwrap(), ["set", "k", "v"]);
        assert_eq!(s("  a   b  ").unwrap(), ["a", "b"]);
        assert_eq!(s(r#"set "a b" 'c d'"#).unwrap(), ["set", "a b", "c d"]);
        assert_eq!(s(r#""\x41\n""#).unwrap(), ["A\n"]);
        assert_eq!(s(r#"'it\'s'"#).unwrap(), ["it's"]);
        assert_eq!(s(r#""""#).unwrap(), [""]);
        assert_eq!(s("").unwrap(), Vec::<String>::new());
        assert_eq!(s(r#"a"b""#).unwrap(), ["ab"]);
    }

    #[test]
    fn rejects_unbalanced_quotes() {
        assert!(s(r#"set "a"#).is_none());
        assert!(s("set 'a").is_none());
        assert!(s(r#""a"b"#).is_none());
    }
}
