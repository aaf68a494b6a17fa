//! SORT and SORT_RO (Redis's sort.c): lists, sets and sorted sets, numeric or ALPHA, ASC or
//! DESC, LIMIT, BY patterns (`*` substitution, `->field` of a hash, no `*` = no sorting),
//! GET patterns (`#` = the element) and STORE into a list.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, Spec, err, is, spec};
use crate::server::notify::{GENERIC, LIST, notify};
use crate::server::types::{List, Value};
use bytes::Bytes;
use std::cmp::Ordering;

/// SORT and SORT_RO.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("sort", -2, WRITE | DENYOOM, KEY1, sort),
        spec("sort_ro", -2, READONLY, KEY1, sort_ro),
    ]
}

/// SORT's options.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a Bytes>,
    by: Option<&'a Bytes>,
    /// BY without `*`: keep the native order.
    dontsort: bool,
    gets: Vec<&'a Bytes>,
}

fn options(args: &[Bytes], readonly: bool) -> Result<Options<'_>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit = Some((super::arg_i64(&args[j + 1])?, super::arg_i64(&args[j + 2])?));
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(&args[j + 1]);
            j += 1;
        } else if is(a, "by") && left >= 1 {
            o.by = Some(&args[j + 1]);
            o.dontsort = !args[j + 1].contains(&b'*');
            j += 1;
        } else if is(a, "get") && left >= 1 {
            o.gets.push(&args[j + 1]);
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The bytes before the first NUL: what strcoll compares of an element.
fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// Redis's lookupKeyByPattern: `#` is the element itself; otherwise the first `*` is
/// replaced by the element and the key read (a string, or with `->field` a hash field).
/// None when the pattern has no `*` or nothing is there.
fn by_pattern(ctx: &mut Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let field = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&f| f + 2 < after.len());
    let (post, field) = match field {
        Some(f) => (&after[..f], Some(&after[f + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + post.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    match (ctx.lookup_read(&key)?, field) {
        (Value::Str(s), None) => Some(s.to_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.to_vec()),
        _ => None,
    }
}

/// A sort weight as Redis computes it with strtod: leading spaces allowed, nothing after
/// the number, no NaN, no overflow; an empty string is 0. Any ERANGE refuses it, so a
/// subnormal result (`5e-324`, `1e-310`) too, unlike getDoubleFromObject. strtod reads a C
/// string: a NUL byte ends it (`"\0\xff"` weighs 0, `"1\0x"` weighs 1).
fn weight(b: &[u8]) -> Option<f64> {
    let b = cstr(b);
    if b.is_empty() {
        return Some(0.0);
    }
    let t = b.trim_ascii_start();
    if t.len() != b.len() && t.is_empty() {
        return None;
    }
    super::args::double(t).filter(|v| !v.is_subnormal())
}

/// One element to sort and what it sorts by.
struct Item {
    elem: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn sort(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx, args: &[Bytes], readonly: bool) -> CmdResult {
    let mut o = options(args, readonly)?;
    let mut by = o.by;
    // The elements in their native order (a set's is its iteration order).
    let (elems, is_set): (Vec<Vec<u8>>, bool) = match ctx.lookup_read(&args[1]) {
        None => (Vec::new(), false),
        Some(Value::List(l)) => (l.iter().map(|e| e.as_bytes().to_vec()).collect(), false),
        Some(Value::Set(s)) => (s.iter().map(|e| e.to_vec()).collect(), true),
        Some(Value::ZSet(z)) => {
            // Redis's sortCommandGeneric converts a listpack to a skiplist in place
            // ("Destructively convert encoded sorted sets for SORT"), SORT_RO included:
            // OBJECT ENCODING says `skiplist` from then on.
            z.skiplist = true;
            (z.iter().map(|(m, _)| m.to_vec()).collect(), false)
        }
        Some(_) => return Err(err::WRONGTYPE),
    };
    // A set stored without sorting, or returned to a script, would depend on its iteration
    // order: Redis sorts it ALPHA so replicas store (and scripts see) the same list. The
    // scripts' client has id 0 (as in MONITOR's `lua`).
    let from_script = ctx.client.info.id == 0;
    if o.dontsort && is_set && (o.store.is_some() || from_script) {
        o.dontsort = false;
        o.alpha = true;
        by = None;
    }
    let len = elems.len() as i64;
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start.wrapping_add(limit_count).wrapping_sub(1)
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut items: Vec<Item> = if o.dontsort && !is_set {
        // Native order, read from the end for DESC; LIMIT applied while reading.
        let n = if end >= start {
            (end - start + 1) as usize
        } else {
            0
        };
        let iter: Box<dyn Iterator<Item = Vec<u8>>> = if o.desc {
            Box::new(elems.into_iter().rev())
        } else {
            Box::new(elems.into_iter())
        };
        let v = iter
            .skip(start.max(0) as usize)
            .take(n)
            .map(|elem| Item {
                elem,
                score: 0.0,
                cmp: None,
            })
            .collect();
        end -= start;
        start = 0;
        v
    } else {
        elems
            .into_iter()
            .map(|elem| Item {
                elem,
                score: 0.0,
                cmp: None,
            })
            .collect()
    };
    let mut bad_score = false;
    if !o.dontsort {
        for it in items.iter_mut() {
            let byval = match by {
                Some(p) => match by_pattern(ctx, p, &it.elem) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.elem.clone(),
            };
            if o.alpha {
                if by.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match weight(&byval) {
                    Some(w) => it.score = w,
                    None => bad_score = true,
                }
            }
        }
        let how = How {
            alpha: o.alpha,
            has_by: by.is_some(),
            store: o.store.is_some(),
        };
        let desc = o.desc;
        let cmp = |a: &Item, b: &Item| {
            let c = compare(a, b, how);
            if desc { c.reverse() } else { c }
        };
        // Redis sorts a part of the vector (its pqsort) when BY and LIMIT narrow the range,
        // else all of it with qsort (glibc's is a stable merge sort): ties (weights read from
        // missing keys) come out in the order each algorithm leaves them.
        let full = start == 0 && end == len - 1;
        if by.is_some() && !full && end >= start {
            pqsort::pqsort(&mut items, start as usize, end as usize, &cmp);
        } else {
            items.sort_by(cmp);
        }
    }
    if bad_score {
        return Err(CmdError::fixed(
            "ERR One or more scores can't be converted into double",
        ));
    }
    let range: &[Item] = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let per = o.gets.len().max(1);
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(range.len() * per);
    for it in range {
        if o.gets.is_empty() {
            out.push(Some(it.elem.clone()));
        }
        for g in &o.gets {
            out.push(by_pattern(ctx, g, &it.elem));
        }
    }
    match o.store {
        None => {
            ctx.out.array(out.len());
            for v in out {
                match v {
                    Some(b) => ctx.out.bulk(&b),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dest) => {
            let n = out.len();
            if n > 0 {
                let list = List::from_items(out.iter().map(|v| v.as_deref().unwrap_or(b"")));
                ctx.db().set(dest, Value::List(Box::new(list)), false);
                ctx.modified(dest, n as u64);
                notify(ctx, LIST, "sortstore", dest);
            } else if ctx.db().remove(dest).is_some() {
                ctx.modified(dest, 1);
                notify(ctx, GENERIC, "del", dest);
            }
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// What sortCompare looks at.
#[derive(Clone, Copy)]
struct How {
    alpha: bool,
    has_by: bool,
    store: bool,
}

/// Redis's sortCompare (before DESC is applied). ALPHA compares with strcoll (the C
/// locale's byte order, up to a NUL byte) when replying, byte for byte when storing.
fn compare(a: &Item, b: &Item, how: How) -> Ordering {
    let text = |x: &[u8], y: &[u8]| {
        if how.store {
            x.cmp(y)
        } else {
            cstr(x).cmp(cstr(y))
        }
    };
    let How { alpha, has_by, .. } = how;
    if !alpha {
        return a
            .score
            .partial_cmp(&b.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.elem.cmp(&b.elem));
    }
    if has_by {
        return match (&a.cmp, &b.cmp) {
            (Some(x), Some(y)) => text(x, y),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        };
    }
    text(&a.elem, &b.elem)
}

/// Redis's partial quicksort for SORT ... BY ... LIMIT (pqsort.c, a Bentley-McIlroy
/// quicksort that only descends into the parts overlapping the wanted range). Unstable: the
/// order it leaves equal elements in is part of SORT's reply, so it is the same algorithm
/// step for step (median-of-three pivots, ninther above 40 elements, equal keys gathered at
/// both ends, insertion sort below 7 elements or when a pass moved nothing).
mod pqsort {
    use std::cmp::Ordering;

    /// Sorts enough of `v` that positions `lo..=hi` hold what a full sort would put there.
    pub fn pqsort<T>(v: &mut [T], lo: usize, hi: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
        part(v, 0, lo, hi, cmp);
    }

    fn insertion<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering) {
        for m in 1..v.len() {
            let mut l = m;
            while l > 0 && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
                v.swap(l, l - 1);
                l -= 1;
            }
        }
    }

    fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
        use Ordering::*;
        if cmp(&v[a], &v[b]) == Less {
            if cmp(&v[b], &v[c]) == Less {
                b
            } else if cmp(&v[a], &v[c]) == Less {
                c
            } else {
                a
            }
        } else if cmp(&v[b], &v[c]) == Greater {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            a
        } else {
            c
        }
    }

    /// Swaps `n` elements starting at `a` with `n` starting at `b` (C's vecswap).
    fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
        for i in 0..n {
            v.swap(a + i, b + i);
        }
    }

    /// `v` is the part starting at `base` of the whole vector; `lo..=hi` are whole-vector
    /// positions.
    fn part<T>(
        mut v: &mut [T],
        mut base: usize,
        lo: usize,
        hi: usize,
        cmp: &impl Fn(&T, &T) -> Ordering,
    ) {
        loop {
            let n = v.len();
            if n < 7 {
                insertion(v, cmp);
                return;
            }
            let mut pm = n / 2;
            if n > 7 {
                let (mut pl, mut pn) = (0, n - 1);
                if n > 40 {
                    let d = n / 8;
                    pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                    pm = med3(v, pm - d, pm, pm + d, cmp);
                    pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
                }
                pm = med3(v, pl, pm, pn, cmp);
            }
            v.swap(0, pm);
            let (mut pa, mut pb) = (1, 1);
            let (mut pc, mut pd) = (n - 1, n - 1);
            let mut moved = false;
            loop {
                while pb <= pc {
                    let c = cmp(&v[pb], &v[0]);
                    if c == Ordering::Greater {
                        break;
                    }
                    if c == Ordering::Equal {
                        moved = true;
                        v.swap(pa, pb);
                        pa += 1;
                    }
                    pb += 1;
                }
                while pb <= pc {
                    let c = cmp(&v[pc], &v[0]);
                    if c == Ordering::Less {
                        break;
                    }
                    if c == Ordering::Equal {
                        moved = true;
                        v.swap(pc, pd);
                        pd -= 1;
                    }
                    pc -= 1;
                }
                if pb > pc {
                    break;
                }
                v.swap(pb, pc);
                moved = true;
                pb += 1;
                pc -= 1;
            }
            if !moved {
                insertion(v, cmp);
                return;
            }
            let r = pa.min(pb - pa);
            vecswap(v, 0, pb - r, r);
            let r = (pd - pc).min(n - pd - 1);
            vecswap(v, pb, n - r, r);
            let left = pb - pa;
            if left > 1 && hi >= base && lo < base + left {
                part(&mut v[..left], base, lo, hi, cmp);
            }
            let right = pd - pc;
            if right <= 1 {
                return;
            }
            let from = n - right;
            base += from;
            v = &mut v[from..];
            if !(hi >= base && lo < base + right) {
                return;
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Whatever the ties, the wanted range holds what a full sort puts there.
        #[test]
        fn the_wanted_range_is_sorted() {
            let mut x: u64 = 7;
            for n in [0usize, 1, 6, 7, 8, 40, 41, 100, 333] {
                let v: Vec<u32> = (0..n)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (x >> 59) as u32
                    })
                    .collect();
                let mut full = v.clone();
                full.sort();
                for (lo, hi) in [(0, 0), (1, 3), (n / 2, n / 2 + 5), (n.saturating_sub(3), n)] {
                    if n == 0 || hi >= n || lo > hi {
                        continue;
                    }
                    let mut p = v.clone();
                    pqsort(&mut p, lo, hi, &|a: &u32, b: &u32| a.cmp(b));
                    assert_eq!(p[lo..=hi], full[lo..=hi], "n {n} range {lo}..={hi}");
                }
            }
        }
    }
}
