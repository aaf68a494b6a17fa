//! Key specs (Redis 7.0's `key_specs`): where a command's keys are, and how COMMAND
//! GETKEYS finds them in a request (Redis's getKeysUsingKeySpecs).

use super::Node;

/// Where the search for a spec's keys begins.
#[derive(Debug, Clone, PartialEq)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i64),
    /// After the first argument equal to `keyword` (case-insensitively), searched from
    /// `startfrom` (negative: backwards from the end).
    Keyword {
        /// The keyword (`STREAMS`, `KEYS`, ...).
        keyword: &'static str,
        /// Where the search starts.
        startfrom: i64,
    },
    /// Not describable: a command-specific procedure finds the keys.
    Unknown,
}

/// How the keys are found from where the search began.
#[derive(Debug, Clone, PartialEq)]
pub enum FindKeys {
    /// A range: last key relative to the first (negative: from the end), step, and limit
    /// (a divisor of the remaining arguments).
    Range {
        /// Last key, relative to the first (negative: counted from the end).
        lastkey: i64,
        /// Step between keys.
        keystep: i64,
        /// With lastkey -1: take 1/limit of the remaining arguments (0: all).
        limit: i64,
    },
    /// A number of keys given by an argument.
    Keynum {
        /// Index of the count, relative to the begin search.
        keynumidx: i64,
        /// Index of the first key, relative to the begin search.
        firstkey: i64,
        /// Step between keys.
        keystep: i64,
    },
    /// Not describable.
    Unknown,
}

/// One key spec.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySpec {
    /// Flags as COMMAND INFO names them (`RW`, `access`, `not_key`, `incomplete`, ...).
    pub flags: Vec<&'static str>,
    /// Where the search begins.
    pub begin: BeginSearch,
    /// How the keys are found.
    pub find: FindKeys,
}

impl KeySpec {
    /// Reads a key spec from its COMMAND INFO map.
    pub fn from_node(node: &Node) -> KeySpec {
        let flags = node
            .field("flags")
            .map(|f| f.items().iter().filter_map(Node::as_str).collect())
            .unwrap_or_default();
        let part = |name: &str| {
            let n = node.field(name);
            let kind = n.and_then(|n| n.field("type")).and_then(Node::as_str);
            let spec = n.and_then(|n| n.field("spec"));
            let int = move |f: &str| spec.and_then(|s| s.field(f)).and_then(Node::as_int);
            (kind.unwrap_or(""), spec, int)
        };
        let (kind, spec, int) = part("begin_search");
        let begin = match kind {
            "index" => BeginSearch::Index(int("index").unwrap_or(0)),
            "keyword" => BeginSearch::Keyword {
                keyword: spec
                    .and_then(|s| s.field("keyword"))
                    .and_then(Node::as_str)
                    .unwrap_or(""),
                startfrom: int("startfrom").unwrap_or(0),
            },
            _ => BeginSearch::Unknown,
        };
        let (kind, _, int) = part("find_keys");
        let find = match kind {
            "range" => FindKeys::Range {
                lastkey: int("lastkey").unwrap_or(0),
                keystep: int("keystep").unwrap_or(1),
                limit: int("limit").unwrap_or(0),
            },
            "keynum" => FindKeys::Keynum {
                keynumidx: int("keynumidx").unwrap_or(0),
                firstkey: int("firstkey").unwrap_or(0),
                keystep: int("keystep").unwrap_or(1),
            },
            _ => FindKeys::Unknown,
        };
        KeySpec { flags, begin, find }
    }

    /// Whether the spec has `flag`.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The first key's index in `args` (the command name at 0), if the search finds one.
    fn first(&self, args: &[&[u8]]) -> Option<i64> {
        let argc = args.len() as i64;
        match &self.begin {
            BeginSearch::Index(i) => Some(*i),
            BeginSearch::Keyword { keyword, startfrom } => {
                let (start, forward) = if *startfrom > 0 {
                    (*startfrom, true)
                } else {
                    (argc + startfrom, false)
                };
                let end = if forward { argc - 1 } else { 1 };
                let mut i = start;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                        return Some(i + 1);
                    }
                    i += if forward { 1 } else { -1 };
                }
                None
            }
            BeginSearch::Unknown => None,
        }
    }
}

/// Why the specs could not locate the keys of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSpec;

/// The keys of a request (indexes into `args`, with their spec), as Redis's
/// getKeysUsingKeySpecs: specs of fake keys (`not_key`) are skipped, a keyword that is not
/// there skips its spec; an unknown or incomplete spec, a bad key count or a range outside
/// the arguments make the whole search invalid. `arity` is the command's: with a variable
/// arity, keys past the end are skipped.
pub fn find<'s>(
    specs: &'s [KeySpec],
    arity: i64,
    args: &[&[u8]],
) -> Result<Vec<(usize, &'s KeySpec)>, InvalidSpec> {
    let argc = args.len() as i64;
    let mut keys = Vec::new();
    for spec in specs.iter().filter(|s| !s.has("not_key")) {
        let Some(mut first) = spec.first(args) else {
            if spec.begin == BeginSearch::Unknown {
                return Err(InvalidSpec);
            }
            continue;
        };
        let (last, step) = match spec.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (last, keystep)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = first + keynumidx;
                let count = usize::try_from(at)
                    .ok()
                    .and_then(|at| args.get(at))
                    .and_then(|a| crate::server::numbers::parse_i64(a))
                    .filter(|n| *n >= 0)
                    .ok_or(InvalidSpec)?;
                first += firstkey;
                (first.saturating_add(count) - 1, keystep)
            }
            FindKeys::Unknown => return Err(InvalidSpec),
        };
        if last >= argc || last < first || first >= argc || first < 1 || step < 1 {
            return Err(InvalidSpec);
        }
        let mut i = first;
        while i <= last {
            // Past the end only with a variable arity (Redis skips those positions).
            if i >= argc || i < first {
                if arity < 0 {
                    i += step;
                    continue;
                }
                return Err(InvalidSpec);
            }
            keys.push((i as usize, spec));
            i += step;
        }
        if spec.has("incomplete") {
            return Err(InvalidSpec);
        }
    }
    Ok(keys)
}

/// Key-spec flags of one key found: the spec's, or a native procedure's.
pub type KeyFlags = &'static [&'static str];

/// Whether the command has key arguments (Redis's doesCommandHaveKeys): a native getkeys
/// procedure, or a key spec that is not `not_key`.
pub fn has_keys(m: &'static super::Meta) -> bool {
    native(m.name, &[]).is_some() || m.key_specs.iter().any(|s| !s.has("not_key"))
}

/// The keys of a request for COMMAND GETKEYS (Redis's getKeysFromCommandWithSpecs): the key
/// specs when they are reliable (no `variable_flags`) and locate the keys, otherwise the
/// command's native procedure; empty when neither finds any.
pub fn getkeys(m: &'static super::Meta, args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
    let has_spec = m.key_specs.iter().any(|s| !s.has("not_key"));
    let variable = m.key_specs.iter().any(|s| s.has("variable_flags"));
    if has_spec
        && !variable
        && let Ok(found) = find(&m.key_specs, m.arity, args)
    {
        return found
            .into_iter()
            .map(|(i, s)| (i, s.flags.as_slice()))
            .collect();
    }
    native(m.name, args).unwrap_or_default()
}

/// Redis 7.0's native getkeys procedures of the commands redrepl implements (or may soon),
/// used when the key specs cannot answer: None when the command has none.
fn native(name: &str, args: &[&[u8]]) -> Option<Vec<(usize, KeyFlags)>> {
    Some(match name {
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            counted(0, 1, 2, args)
        }
        "zunionstore" | "zinterstore" | "zdiffstore" => counted(1, 2, 3, args),
        "blmpop" | "bzmpop" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall"
        | "fcall_ro" => counted(0, 2, 3, args),
        "set" => {
            // The key's flags depend on the GET option (setGetKeys).
            let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            let flags: KeyFlags = if get {
                &["RW", "access", "update"]
            } else {
                &["OW", "update"]
            };
            vec![(1, flags)]
        }
        "sort" => sort_keys(args),
        // sortROGetKeys: the sorted key only (BY/GET patterns are not keys it reports).
        "sort_ro" => vec![(1, &["RO", "access"][..])],
        "migrate" => migrate_keys(args),
        "bitfield" => bitfield_keys(args),
        _ => return None,
    })
}

/// Redis's sortGetKeys: the sorted key, and the argument after the last STORE (LIMIT skips
/// two arguments, GET and BY one; a STORE is only seen where an option is expected).
fn sort_keys(args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
    let mut keys: Vec<(usize, KeyFlags)> = vec![(1, &["RO", "access"])];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            store = Some(i + 1);
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        }
        i += 1;
    }
    if let Some(at) = store {
        keys.push((at, &["OW", "update"]));
    }
    keys
}

/// Redis's migrateGetKeys: the key at 3, or (when that one is empty) every argument after
/// KEYS; AUTH skips one argument, AUTH2 two. KEYS with a key at 3 has no keys.
fn migrate_keys(args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
    const FLAGS: KeyFlags = &["RW", "access", "delete"];
    let (mut first, mut num) = (3, 1);
    let mut i = 6;
    while i < args.len() {
        let a = args[i];
        if a.eq_ignore_ascii_case(b"auth2") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"auth") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"keys") {
            if !args.get(3).is_some_and(|k| k.is_empty()) {
                return Vec::new();
            }
            first = i + 1;
            num = args.len() - first;
            break;
        }
        i += 1;
    }
    (first..first + num).map(|i| (i, FLAGS)).collect()
}

/// Redis's bitfieldGetKeys: the key is read-only unless a SET or INCRBY comes (GET skips two
/// arguments when they are there, OVERFLOW one).
fn bitfield_keys(args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        let left = args.len() - i - 1;
        if a.eq_ignore_ascii_case(b"get") && left >= 2 {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby") {
            return vec![(1, &["RW", "access", "update"])];
        } else if a.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            i += 1;
        }
        i += 1;
    }
    vec![(1, &["RO", "access"])]
}

/// Redis's genericGetKeys: `count_at` holds the number of keys (read with atoi), keys
/// start at `first`, the destination key (`store`, 0: none) comes last; no keys when the
/// count is below 1 or larger than the arguments left.
fn counted(store: usize, count_at: usize, first: usize, args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
    let num = args.get(count_at).map_or(0, |a| atoi(a));
    let left = args.len().saturating_sub(first) as i64;
    if num < 1 || num > left {
        return Vec::new();
    }
    let mut keys: Vec<(usize, KeyFlags)> =
        (0..num as usize).map(|i| (first + i, &[][..])).collect();
    if store != 0 {
        keys.push((store, &[]));
    }
    keys
}

/// C's atoi on 32-bit int: leading spaces, a sign, then digits up to the first non-digit.
fn atoi(a: &[u8]) -> i64 {
    let s = a.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        n = (n * 10 + (d - b'0') as i64).min(i64::from(i32::MAX) + 1);
    }
    let n = if neg { -n } else { n };
    n.clamp(i64::from(i32::MIN), i64::from(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(name: &str, args: &[&str]) -> Result<Vec<usize>, InvalidSpec> {
        let m = super::super::get(name).unwrap();
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        Ok(find(&m.key_specs, m.arity, &args)?
            .into_iter()
            .map(|(i, _)| i)
            .collect())
    }

    #[test]
    fn ranges_keynums_and_keywords() {
        assert_eq!(keys_of("get", &["get", "k"]), Ok(vec![1]));
        assert_eq!(
            keys_of("mset", &["mset", "a", "1", "b", "2"]),
            Ok(vec![1, 3])
        );
        assert_eq!(
            keys_of(
                "zunionstore",
                &["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"]
            ),
            Ok(vec![1, 3, 4])
        );
        assert_eq!(
            keys_of("zunionstore", &["zunionstore", "d", "5", "a", "b"]),
            Err(InvalidSpec)
        );
        assert_eq!(
            keys_of("zunionstore", &["zunionstore", "d", "x", "a"]),
            Err(InvalidSpec)
        );
        assert_eq!(
            keys_of(
                "xread",
                &["xread", "COUNT", "1", "STREAMS", "a", "b", "0", "0"]
            ),
            Ok(vec![4, 5])
        );
        assert_eq!(keys_of("sort", &["sort", "k"]), Err(InvalidSpec));
    }

    #[test]
    fn native_procedures_when_specs_fail() {
        let m = super::super::get("zunionstore").unwrap();
        let args: Vec<&[u8]> = vec![b"zunionstore", b"d", b"1abc", b"a"];
        let keys: Vec<usize> = getkeys(m, &args).into_iter().map(|k| k.0).collect();
        assert_eq!(keys, [3, 1]);
        let set = super::super::get("set").unwrap();
        assert_eq!(
            getkeys(set, &[b"set", b"k", b"v", b"GET"]),
            [(1, &["RW", "access", "update"][..])]
        );
        assert_eq!(
            getkeys(set, &[b"set", b"k", b"v"]),
            [(1, &["OW", "update"][..])]
        );
        assert_eq!(atoi(b" -12x"), -12);
    }
}
