//! How two replies are compared: exactly by default; by shape, as multisets, with a tolerance
//! or by membership where the reply is random or unordered by nature; plus the allow-list
//! of differences that are undefined by nature, each with its reason.

use super::reply::Reply;

/// How the replies of one command are compared. Errors are always compared exactly.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Byte for byte.
    Exact,
    /// An array in hash-table order (SMEMBERS, SINTER, HKEYS, KEYS...): equal as multisets.
    Unordered,
    /// A flat array of pairs in hash-table order (HGETALL, CONFIG GET): equal as pair multisets.
    UnorderedPairs,
    /// Values that vary by nature (TIME, INFO, CLIENT ID/LIST, LASTSAVE, DUMP bytes,
    /// OBJECT IDLETIME, HELLO's id, RANDOMKEY): same kind of reply.
    Shape,
    /// A TTL or an absolute expiry time: negative codes equal, positive values within the bound.
    Near(i64),
    /// SCAN family: cursors differ by design (bucket index vs reverse-binary); when both say
    /// the iteration is complete (cursor 0), the returned elements are equal as a (pair) set.
    Scan {
        /// HSCAN/ZSCAN return field/value pairs.
        pairs: bool,
        /// The request started an iteration (cursor 0): a complete one returns everything.
        from_start: bool,
    },
    /// SRANDMEMBER/HRANDFIELD/ZRANDMEMBER: same length; membership is checked against the
    /// snapshot command that follows (outside MULTI).
    Pick {
        /// The reply is a flat array of pairs (WITHVALUES / WITHSCORES).
        pairs: bool,
        /// A positive count: the elements are distinct.
        distinct: bool,
        /// A snapshot of the collection follows.
        snapshot: bool,
    },
    /// SPOP: same length, distinct, members of the snapshot that precedes it; the key is
    /// then resynchronised from redis-server.
    Pop,
    /// The collection read right before/after a random pick (compared as `inner`).
    Snapshot {
        /// How the snapshot itself is compared.
        pairs: bool,
        /// Check the pending pick against this snapshot.
        after_pick: bool,
    },
    /// Stream introspection with idle and delivery times (XPENDING's extended form, XINFO
    /// CONSUMERS, XINFO STREAM FULL): equal but for the times, which may differ by
    /// [`TIME_SLACK`] ms (each server reads its own clock when it delivers and when it
    /// answers). Times are recognised by place: the value after an `idle`, `seen-time` or
    /// `active-time` name, a pending-entry row's time (`[id, consumer, idle, count]`,
    /// `[id, time, count]`).
    Timed,
    /// Arrays compared as multisets at every depth: FUNCTION LIST (libraries and their
    /// functions live in hash tables, listed in dict order).
    DeepUnordered,
}

/// The verdict on one pair of replies.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Equal under the mode.
    Same,
    /// Different, but on the allow-list for this reason.
    Allowed(&'static str),
    /// Different: why.
    Differ(String),
}

/// Sorted copy of the elements of an array reply (for multiset comparisons).
fn sorted(xs: &[Reply]) -> Vec<String> {
    let mut v: Vec<String> = xs.iter().map(|x| format!("{x:?}")).collect();
    v.sort();
    v
}

fn sorted_pairs(xs: &[Reply]) -> Vec<String> {
    let mut v: Vec<String> = xs.chunks(2).map(|c| format!("{c:?}")).collect();
    v.sort();
    v
}

fn same_multiset(a: &Reply, b: &Reply, pairs: bool) -> bool {
    match (a, b) {
        (Reply::Array(x), Reply::Array(y)) if pairs => sorted_pairs(x) == sorted_pairs(y),
        (Reply::Array(x), Reply::Array(y)) => sorted(x) == sorted(y),
        _ => a == b,
    }
}

fn differ(why: &str) -> Verdict {
    Verdict::Differ(why.to_string())
}

/// Compares `ours` (redrepl) with `theirs` (redis-server) under `mode`.
pub fn compare(mode: &Mode, ours: &Reply, theirs: &Reply) -> Verdict {
    if ours == theirs {
        return Verdict::Same;
    }
    if ours.is_error() || theirs.is_error() {
        return differ("error replies differ");
    }
    let ok = match mode {
        Mode::Exact | Mode::Pop => false,
        Mode::Unordered => same_multiset(ours, theirs, false),
        Mode::UnorderedPairs => same_multiset(ours, theirs, true),
        Mode::Snapshot { pairs, .. } => same_multiset(ours, theirs, *pairs),
        Mode::Shape => ours.kind() == theirs.kind(),
        Mode::Timed => same_but_times(ours, theirs),
        Mode::DeepUnordered => canonical(ours) == canonical(theirs),
        Mode::Near(bound) => match (ours, theirs) {
            (Reply::Int(a), Reply::Int(b)) => *a >= 0 && *b >= 0 && (a - b).abs() <= *bound,
            _ => false,
        },
        Mode::Scan { pairs, from_start } => match (ours, theirs) {
            (Reply::Array(a), Reply::Array(b)) if a.len() == 2 && b.len() == 2 => {
                let done = |c: &Reply| c.text() == Some(b"0");
                if *from_start && done(&a[0]) && done(&b[0]) {
                    same_multiset(&a[1], &b[1], *pairs)
                } else {
                    a[1].kind() == b[1].kind()
                }
            }
            _ => false,
        },
        Mode::Pick { .. } => match (ours, theirs) {
            (Reply::Array(a), Reply::Array(b)) => a.len() == b.len(),
            (Reply::Bulk(_), Reply::Bulk(_)) => true,
            _ => false,
        },
    };
    if ok {
        return Verdict::Same;
    }
    match (ours, theirs) {
        (Reply::Array(a), Reply::Array(b)) if a.len() == b.len() => {
            let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
            Verdict::Differ(format!(
                "replies differ first at element {i}: {} vs {}",
                a[i], b[i]
            ))
        }
        _ => differ("replies differ"),
    }
}

/// How far apart the two servers' idle/delivery times may be (ms).
pub const TIME_SLACK: i64 = 5000;

fn is_time_name(r: &Reply) -> bool {
    matches!(
        r.text(),
        Some(b"idle") | Some(b"seen-time") | Some(b"active-time")
    )
}

/// Equal, except that the times ([`Mode::Timed`]) may differ by [`TIME_SLACK`].
fn same_but_times(a: &Reply, b: &Reply) -> bool {
    let near = |x: &Reply, y: &Reply| match (x, y) {
        (Reply::Int(p), Reply::Int(q)) => (p - q).abs() <= TIME_SLACK,
        _ => x == y,
    };
    let (Reply::Array(x), Reply::Array(y)) = (a, b) else {
        return a == b;
    };
    if x.len() != y.len() {
        return false;
    }
    let is_bulk = |r: &Reply| matches!(r, Reply::Bulk(_));
    let is_int = |r: &Reply| matches!(r, Reply::Int(_));
    // A pending-entry row: [id, consumer, idle, count] or [id, delivery time, count].
    let time_at = match x.as_slice() {
        [i, c, t, n] if is_bulk(i) && is_bulk(c) && is_int(t) && is_int(n) => Some(2),
        [i, t, n] if is_bulk(i) && is_int(t) && is_int(n) => Some(1),
        _ => None,
    };
    (0..x.len()).all(|i| {
        let timed = time_at == Some(i) || (i > 0 && is_time_name(&x[i - 1]));
        if timed {
            near(&x[i], &y[i])
        } else {
            same_but_times(&x[i], &y[i])
        }
    })
}

/// A reply with every array sorted, at every depth (for [`Mode::DeepUnordered`]).
fn canonical(r: &Reply) -> String {
    match r {
        Reply::Array(xs) => {
            let mut v: Vec<String> = xs.iter().map(canonical).collect();
            v.sort();
            format!("[{}]", v.join(","))
        }
        _ => format!("{r:?}"),
    }
}

/// The members a snapshot reply holds (pairs kept together when `pairs`).
fn members(snapshot: &Reply, pairs: bool) -> Vec<Vec<Reply>> {
    match snapshot {
        Reply::Array(xs) if pairs => xs.chunks(2).map(|c| c.to_vec()).collect(),
        Reply::Array(xs) => xs.iter().map(|x| vec![x.clone()]).collect(),
        _ => Vec::new(),
    }
}

/// Checks redrepl's random pick against redrepl's snapshot of the collection: every element
/// (or pair) is a member; distinct when asked. `pick_pairs`: the pick returned pairs;
/// `snap_pairs`: the snapshot holds pairs (its first element is the member).
pub fn check_pick(
    pick: &Reply,
    snapshot: &Reply,
    pick_pairs: bool,
    snap_pairs: bool,
    distinct: bool,
) -> Result<(), String> {
    let snap = members(snapshot, snap_pairs);
    let is_member = |e: &[Reply]| {
        snap.iter().any(|m| {
            if pick_pairs {
                m.as_slice() == e
            } else {
                m.first() == e.first()
            }
        })
    };
    let picked: Vec<Vec<Reply>> = match pick {
        Reply::Array(xs) if pick_pairs => xs.chunks(2).map(|c| c.to_vec()).collect(),
        Reply::Array(xs) => xs.iter().map(|x| vec![x.clone()]).collect(),
        Reply::Bulk(_) => vec![vec![pick.clone()]],
        _ => return Ok(()),
    };
    for p in &picked {
        if !is_member(p) {
            return Err(format!("picked {p:?}, not a member of the collection"));
        }
    }
    if distinct {
        let mut s: Vec<String> = picked.iter().map(|p| format!("{p:?}")).collect();
        s.sort();
        s.dedup();
        if s.len() != picked.len() {
            return Err("a positive count returned repeated elements".into());
        }
    }
    Ok(())
}

/// Allow-list reason: lex ranges over members with different scores, on a skiplist.
pub const ALLOW_LEX_MIXED: &str = "lex ranges over a sorted set whose members have different \
    scores, stored as a skiplist (undefined by the docs): Redis's zslFirstInLexRange descends \
    the levels comparing members only, so its answer depends on the random tower heights of \
    the nodes (two redis-servers fed the same commands can differ); on a listpack the walk is \
    linear and matched (zsets.rs `lex_walk`), which the runner checks with OBJECT ENCODING";

/// Allow-list reason: SORT ALPHA ties over a set or sorted set in dict order.
pub const ALLOW_SORT_DICT_ORDER: &str = "SORT ... ALPHA whose weights tie (BY on missing keys \
    or equal values; elements equal up to a NUL byte, which strcoll compares as C strings) over \
    a sorted set, or a set stored as a hash table (also BY a constant, no sorting, over such a \
    set: seed 3): Redis loads those elements in dict order \
    (siphash with a random seed per process), so tied elements come out in a different order \
    from any other server, two redis-servers included; numeric sorts break ties by the element \
    and stay compared exactly";

/// Whether a SORT's order can depend on how the elements were loaded: ALPHA ties (numeric
/// sorts break ties by the element itself), or BY a pattern without `*` (no sorting: a set's
/// elements come in dict order, seed 3 `SORT_RO set:1 BY # ASC`).
pub fn sort_ties_possible(args: &[Vec<u8>]) -> bool {
    let name = &args[0];
    let by_constant = args
        .windows(2)
        .skip(2)
        .any(|w| w[0].eq_ignore_ascii_case(b"by") && !w[1].contains(&b'*'));
    (name.eq_ignore_ascii_case(b"sort") || name.eq_ignore_ascii_case(b"sort_ro"))
        && (by_constant
            || args
                .iter()
                .skip(2)
                .any(|a| a.eq_ignore_ascii_case(b"alpha")))
}

/// Allow-list reason: OBJECT IDLETIME of a key holding a small integer.
pub const ALLOW_SHARED_INTEGER_IDLE: &str = "OBJECT IDLETIME of a key whose value is an integer \
    0..9999: Redis stores one shared object per such value (OBJ_SHARED_INTEGERS, without an \
    LRU/LFU maxmemory policy), created at start-up and touched by a read of any key holding \
    it, so SET k 1000 leaves k as idle as the shared object is; redrepl keeps one clock per \
    key, so it reports k as just written (a smaller idle time)";

/// Allow-list reason: Redis's SORT reads a stale errno.
pub const ALLOW_SORT_STALE_ERRNO: &str = "SORT refused by redis-server with `One or more \
    scores can't be converted into double` for weights that are valid numbers: sort.c tests \
    `errno == ERANGE` after strtod without clearing errno first, so an ERANGE left by an \
    earlier conversion (a `5e-324` weight, ...) refuses the next numeric sort until some other \
    call resets errno (seed 2: `SORT_RO zset:0 DESC` over [\"42\"]): not reproducible by \
    another server";

/// The allow-list: differences that are undefined by nature (two redis-servers can differ
/// there too), recognised by command and reply; `None` for any other difference.
pub fn allowed(args: &[Vec<u8>], ours: &Reply, theirs: &Reply) -> Option<&'static str> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    if (name == "sort" || name == "sort_ro")
        && !ours.is_error()
        && theirs
            == &Reply::Error(b"ERR One or more scores can't be converted into double".to_vec())
    {
        return Some(ALLOW_SORT_STALE_ERRNO);
    }
    let idletime = name == "object"
        && args
            .get(1)
            .is_some_and(|a| a.eq_ignore_ascii_case(b"idletime"));
    if let (true, Reply::Int(o), Reply::Int(t)) = (idletime, ours, theirs)
        && o < t
    {
        return Some(ALLOW_SHARED_INTEGER_IDLE);
    }
    if matches!(
        name.as_str(),
        "zlexcount"
            | "zrangebylex"
            | "zrevrangebylex"
            | "zremrangebylex"
            | "zrangestore"
            | "zrange"
    ) && (name.starts_with('z') && args.iter().any(|a| a.eq_ignore_ascii_case(b"BYLEX"))
        || name.contains("lex"))
        && !ours.is_error()
        && !theirs.is_error()
    {
        return Some(ALLOW_LEX_MIXED);
    }
    None
}
