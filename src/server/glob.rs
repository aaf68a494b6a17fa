//! Glob matching with Redis's `stringmatchlen` rules (`*`, `?`, `[...]`, `[^...]`, ranges,
//! `\` escapes), used by KEYS, SCAN MATCH, CONFIG GET and CLIENT LIST patterns.
//!
//! Bounded as Redis 7.0 bounds it (the CVE-2022-36021 fix): once the rest of a pattern after
//! a `*` matched nowhere in the rest of the string, no earlier `*` can help by matching
//! longer, so the whole match fails at once (`skip_longer`); and nesting is limited to 1000
//! levels. Without this, `a*a*...*b` against `aaa...a` backtracks exponentially.

/// Whether `s` matches `pattern`; `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    matches(pattern, s, nocase, &mut skip_longer, 0)
}

/// A byte as C's (signed) `char` promoted to `int`, as stringmatchlen compares range bounds.
fn signed(c: u8) -> i32 {
    c as i8 as i32
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn matches(mut p: &[u8], mut s: &[u8], nocase: bool, skip_longer: &mut bool, depth: usize) -> bool {
    if depth > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if matches(&p[1..], s, nocase, skip_longer, depth + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern matched nowhere in the rest of the string: an
                // earlier `*` matching longer cannot help.
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s = &s[1..];
            }
            b'[' => {
                p = &p[1..];
                let not = !p.is_empty() && p[0] == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        // An escape inside a class compares exactly, even with nocase.
                        p = &p[1..];
                        if p[0] == s[0] {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end) = (signed(p[0]), signed(p[2]));
                        let mut c = signed(s[0]);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            let lower = |x: i32| {
                                if (b'A' as i32..=b'Z' as i32).contains(&x) {
                                    x + 32
                                } else {
                                    x
                                }
                            };
                            start = lower(start);
                            end = lower(end);
                            c = lower(c);
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if eq(p[0], s[0], nocase) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Unterminated class ("k[1-"): stringmatchlen steps back onto the last
                    // pattern byte and ends the class there, so the class is judged on what
                    // it held and the pattern is then exhausted. A one-byte stand-in makes
                    // the shared `p = &p[1..]` below leave it empty.
                    p = b"]";
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while !p.is_empty() && p[0] == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn redis_glob_rules() {
        assert!(m(b"*", b"anything", false));
        assert!(m(b"h?llo", b"hello", false));
        assert!(m(b"h*llo", b"heeeello", false));
        assert!(m(b"h[ae]llo", b"hallo", false));
        assert!(!m(b"h[^e]llo", b"hello", false));
        assert!(m(b"h[a-b]llo", b"hbllo", false));
        assert!(m(b"key:*", b"key:", false));
        assert!(!m(b"a", b"", false));
        // Like stringmatchlen: "*" does not match the empty string (KEYS/SCAN special-case "*").
        assert!(!m(b"*", b"", false));
        assert!(m(b"MAX*", b"maxmemory", true));
        assert!(m(b"a\\*b", b"a*b", false));
        assert!(!m(b"a\\*b", b"axb", false));
        // Unterminated classes, as redis-server 7.0 answers them.
        assert!(m(b"k[1-", b"k1", false));
        assert!(m(b"k[1-", b"k-", false));
        assert!(!m(b"k[1-", b"k2", false));
        assert!(!m(b"k[1-", b"k1x", false));
        assert!(!m(b"[", b"x", false));
        assert!(m(b"[^", b"x", false));
    }

    #[test]
    fn classes_escapes_and_nocase() {
        assert!(m(b"[abc]", b"b", false));
        assert!(!m(b"[abc]", b"d", false));
        assert!(m(b"[^abc]", b"d", false));
        assert!(m(b"[z-a]", b"m", false));
        assert!(m(b"[A-C]x", b"bX", true));
        assert!(!m(b"[A-C]x", b"bX", false));
        assert!(m(b"[\\]]", b"]", false));
        assert!(m(b"[a\\-z]", b"-", false));
        assert!(!m(b"[a\\-z]", b"m", false));
        // An escape inside a class is exact even with nocase; outside it folds.
        assert!(!m(b"[\\A]", b"a", true));
        assert!(m(b"\\A", b"a", true));
        // A trailing lone backslash is a literal backslash.
        assert!(m(b"a\\", b"a\\", false));
        assert!(m(b"?", b"x", false));
        assert!(!m(b"?", b"", false));
        // Range bounds are signed chars, as in C: "[a-\xff]" is [-1, 'a'].
        assert!(!m(b"[a-\xff]", b"b", false));
        assert!(m(b"[a-\xff]", b"A", false));
        assert!(m(b"*a*b", b"xxaxxb", false));
        assert!(!m(b"*a*b", b"xxaxxc", false));
        assert!(m(b"a*b*c", b"abc", false));
    }

    #[test]
    fn abusive_pattern_answers_at_once() {
        let s = [b'a'; 40];
        let p = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        // Without the bound this call does not return in any reasonable time.
        assert!(!m(p, &s, false));
        let mut ok = p.to_vec();
        ok.pop();
        ok.push(b'a');
        assert!(m(&ok, &s, false));
    }
}
