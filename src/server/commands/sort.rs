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
/// the number, no NaN, no overflow; an empty string is 0.
fn weight(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return Some(0.0);
    }
    let t = b.trim_ascii_start();
    if t.len() != b.len() && t.is_empty() {
        return None;
    }
    super::args::double(t)
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
        Some(Value::ZSet(z)) => (z.iter().map(|(m, _)| m.to_vec()).collect(), false),
        Some(_) => return Err(err::WRONGTYPE),
    };
    // A set stored without sorting would depend on its iteration order: Redis sorts it
    // ALPHA so replicas store the same list.
    if o.dontsort && is_set && o.store.is_some() {
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
        let (alpha, has_by, desc) = (o.alpha, by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let c = compare(a, b, alpha, has_by);
            if desc { c.reverse() } else { c }
        });
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

/// Redis's sortCompare (before DESC is applied).
fn compare(a: &Item, b: &Item, alpha: bool, has_by: bool) -> Ordering {
    if !alpha {
        return a
            .score
            .partial_cmp(&b.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.elem.cmp(&b.elem));
    }
    if has_by {
        return match (&a.cmp, &b.cmp) {
            (Some(x), Some(y)) => x.cmp(y),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        };
    }
    a.elem.cmp(&b.elem)
}
