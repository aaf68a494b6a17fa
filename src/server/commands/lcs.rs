//! LCS (Redis 7.0's lcsCommand): the longest common subsequence of two strings, its
//! length (LEN) or its matching ranges (IDX, MINMATCHLEN, WITHMATCHLEN).
//!
//! LEN needs only two rows of the dynamic-programming table; the string and the ranges
//! need the whole table (as Redis), allocated fallibly: a table the machine cannot hold
//! is Redis's `Insufficient memory` error, not an abort.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, Spec, err, is, spec};
use crate::server::types::Value;
use bytes::Bytes;

/// The LCS command.
pub fn specs() -> Vec<Spec> {
    vec![spec("lcs", -3, READONLY, (1, 2, 1), lcs)]
}

const NO_MEMORY: CmdError =
    CmdError::fixed("ERR Insufficient memory, failed allocating transient memory for LCS");

/// What LCS replies.
#[derive(Default)]
struct Options {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: i64,
}

fn options(args: &[Bytes]) -> Result<Options, CmdError> {
    let mut o = Options::default();
    let mut j = 3;
    while j < args.len() {
        let a = &args[j];
        if is(a, "idx") {
            o.idx = true;
        } else if is(a, "len") {
            o.len = true;
        } else if is(a, "withmatchlen") {
            o.with_match_len = true;
        } else if is(a, "minmatchlen") && j + 1 < args.len() {
            o.min_match_len = super::arg_i64(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    if o.idx && o.len {
        return Err(CmdError::fixed(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

/// The string under `key` (empty when absent); None for another type.
fn string_or_empty(ctx: &mut Ctx, key: &[u8]) -> Option<Vec<u8>> {
    match ctx.lookup_read(key) {
        None => Some(Vec::new()),
        Some(Value::Str(s)) => Some(s.to_vec()),
        Some(_) => None,
    }
}

fn lcs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let a = string_or_empty(ctx, &args[1]);
    let b = string_or_empty(ctx, &args[2]);
    let (Some(a), Some(b)) = (a, b) else {
        return Err(CmdError::fixed(
            "ERR The specified keys must contain string values",
        ));
    };
    let o = options(args)?;
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(CmdError::fixed("ERR String too long for LCS"));
    }
    // Redis allocates the whole table even for LEN and fails when it cannot: the same
    // check here (reserved, never touched), so a table no machine holds is refused at
    // once instead of running for ever.
    if !Table::fits(a.len(), b.len()) {
        return Err(NO_MEMORY);
    }
    if o.len {
        ctx.out.int(lcs_len(&a, &b) as i64);
        return Ok(());
    }
    let t = Table::build(&a, &b).ok_or(NO_MEMORY)?;
    walk(ctx, &t, &a, &b, &o);
    Ok(())
}

/// The LCS length with two rows of the table.
fn lcs_len(a: &[u8], b: &[u8]) -> u32 {
    let mut prev = vec![0u32; b.len() + 1];
    let mut cur = vec![0u32; b.len() + 1];
    for &x in a {
        for j in 1..=b.len() {
            cur[j] = if x == b[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(cur[j - 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The full table: `at(i, j)` is the LCS length of `a[..i]` and `b[..j]`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    /// Whether the allocator grants a table for strings of `a` and `b` bytes (reserved
    /// and released at once: untouched pages cost nothing).
    fn fits(a: usize, b: usize) -> bool {
        let Some(size) = (a + 1).checked_mul(b + 1) else {
            return false;
        };
        let mut probe: Vec<u32> = Vec::new();
        probe.try_reserve_exact(size).is_ok()
    }

    /// Builds the table; None when it cannot be allocated.
    fn build(a: &[u8], b: &[u8]) -> Option<Table> {
        let width = b.len() + 1;
        let size = (a.len() + 1).checked_mul(width)?;
        let mut cells = Vec::new();
        cells.try_reserve_exact(size).ok()?;
        cells.resize(size, 0);
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Some(Table { cells, width })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }
}

/// One matching range: positions in `a` and `b` (inclusive).
struct Range {
    a: (usize, usize),
    b: (usize, usize),
}

/// Walks the table back from the end as Redis does, building the LCS string and the
/// ranges it emits (with Redis's exact choices, including ranges it drops), then replies.
fn walk(ctx: &mut Ctx, t: &Table, a: &[u8], b: &[u8], o: &Options) {
    let total = t.at(a.len(), b.len()) as usize;
    let mut result = vec![0u8; total];
    let mut idx = total;
    let mut ranges: Vec<Range> = Vec::new();
    // `cur` is the range being extended backwards (None: Redis's arange_start == alen).
    let mut cur: Option<Range> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match &mut cur {
                None => {
                    cur = Some(Range {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                Some(r) if r.a.0 == i && r.b.0 == j => {
                    r.a.0 -= 1;
                    r.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            if let Some(r) = &cur
                && (r.a.0 == 0 || r.b.0 == 0)
            {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t.at(i - 1, j) > t.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = cur.is_some();
        }
        if emit && let Some(r) = cur.take() {
            let len = r.a.1 - r.a.0 + 1;
            if o.min_match_len == 0 || len as i64 >= o.min_match_len {
                ranges.push(r);
            }
        }
    }
    if !o.idx {
        ctx.out.bulk(&result);
        return;
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(ranges.len());
    for r in &ranges {
        ctx.out.array(2 + o.with_match_len as usize);
        ctx.out.array(2);
        ctx.out.int(r.a.0 as i64);
        ctx.out.int(r.a.1 as i64);
        ctx.out.array(2);
        ctx.out.int(r.b.0 as i64);
        ctx.out.int(r.b.1 as i64);
        if o.with_match_len {
            ctx.out.int((r.a.1 - r.a.0 + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
}
