//! The runner: sends pipelined batches to both servers at once, reads both reply streams,
//! judges each pair (following MULTI/EXEC so queued commands keep their comparison mode),
//! resynchronises keys after random pops, checks DEBUG DIGEST periodically and keeps the
//! figures for the report.

use super::check::{self, Mode, Verdict};
use super::generate::{Gen, Op};
use super::reply::{self, Reply, read_reply, show_command};
use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Replies later than this mean a hang.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection: a writer and a buffered reader over the same socket.
pub struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    /// Connects to 127.0.0.1:port.
    pub fn connect(port: u16) -> Conn {
        let w = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        w.set_nodelay(true).unwrap();
        w.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        let r = BufReader::with_capacity(1 << 16, w.try_clone().unwrap());
        Conn { w, r }
    }

    /// Sends `ops` and reads as many replies; the error names the first missing reply.
    fn exchange(&mut self, bytes: &[u8], n: usize) -> (Vec<Reply>, Option<String>) {
        let Conn { w, r } = self;
        std::thread::scope(|s| {
            let writer = s.spawn(move || w.write_all(bytes));
            let mut out = Vec::with_capacity(n);
            let mut err = None;
            for _ in 0..n {
                match read_reply(r) {
                    Ok(x) => out.push(x),
                    Err(e) => {
                        err = Some(e.to_string());
                        break;
                    }
                }
            }
            if let Ok(Err(e)) = writer.join() {
                err.get_or_insert(format!("write: {e}"));
            }
            (out, err)
        })
    }

    /// Runs one command and returns its reply (panics on a transport error).
    pub fn call(&mut self, args: &[&[u8]]) -> Reply {
        let v: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        let mut b = Vec::new();
        reply::encode(&v, &mut b);
        let (mut r, e) = self.exchange(&b, 1);
        assert!(e.is_none(), "transport error: {e:?}");
        r.remove(0)
    }
}

/// What a run found.
#[derive(Default, Debug)]
pub struct Stats {
    /// Commands sent to each server (snapshots, resyncs and digests included).
    pub commands: u64,
    /// Generated commands (the stream the seed defines).
    pub generated: u64,
    /// Replies that differed but are on the allow-list, by reason.
    pub allowed: BTreeMap<&'static str, u64>,
    /// Replies equal by shape/membership only (random or unordered by nature), by mode.
    pub loose: BTreeMap<String, u64>,
    /// Differences found (each with seed, index, command and both replies).
    pub mismatches: Vec<String>,
    /// DEBUG DIGEST comparisons made.
    pub digests: u64,
    /// Replies not judged because an allowed difference had changed the data before them
    /// (the rest of that batch); the data is then copied from redis-server to redrepl.
    pub skipped: u64,
    /// Full resynchronisations after allowed differences that changed data.
    pub resyncs: u64,
}

/// The two connections, the generator and the judging state.
pub struct Runner {
    /// redrepl.
    pub ours: Conn,
    /// redis-server.
    pub theirs: Conn,
    /// The seed, for reports.
    pub seed: u64,
    /// Record mismatches and go on (exploration) instead of stopping at the first.
    pub keep_going: bool,
    /// Figures.
    pub stats: Stats,
    multi: Option<Vec<(Mode, Vec<Vec<u8>>)>>,
    /// An allowed difference happened inside the open MULTI (its EXEC differs too).
    multi_allowed: Option<&'static str>,
    pick: Option<(Reply, bool, bool)>,
    pop_snapshot: Option<Reply>,
    /// The data may differ since an allowed difference: stop judging until resynchronised.
    diverged: bool,
    /// Commands (by number) to print with both replies (`REDREPL_FUZZ_TRACE=from-to`).
    pub trace: std::ops::Range<u64>,
    /// Print every allowed difference and resynchronisation (`REDREPL_FUZZ_LOG_ALLOWED=1`).
    pub log_allowed: bool,
    /// The number of the command being judged (for the log).
    judging: u64,
    /// Allow-list entries turned off (`REDREPL_FUZZ_DISALLOW`): such differences fail.
    pub disallowed: Vec<&'static str>,
    /// The last batch (number, command, both replies), printed when a digest differs.
    last_batch: Vec<String>,
    /// After a SPOP: the snapshot taken before it and how many members it popped.
    popped: Option<(Vec<Vec<u8>>, usize)>,
    /// A key whose TYPE and OBJECT ENCODING on both servers are printed after every batch
    /// that changes them (`REDREPL_FUZZ_WATCH=key`), to find where an encoding diverged.
    pub watch: Option<Vec<u8>>,
    /// What the watched key last was on both servers.
    watched: String,
}

fn upper(a: &[u8]) -> String {
    String::from_utf8_lossy(a).to_ascii_uppercase()
}

impl Runner {
    /// A runner over the two connections.
    pub fn new(ours: Conn, theirs: Conn, seed: u64, keep_going: bool) -> Runner {
        Runner {
            ours,
            theirs,
            seed,
            keep_going,
            stats: Stats::default(),
            multi: None,
            multi_allowed: None,
            pick: None,
            pop_snapshot: None,
            diverged: false,
            trace: 0..0,
            log_allowed: false,
            judging: 0,
            disallowed: Vec::new(),
            last_batch: Vec::new(),
            popped: None,
            watch: None,
            watched: String::new(),
        }
    }

    /// Runs `ops` on both servers and judges every reply. Err: a transport failure (a
    /// crash or a hang) or, unless keep_going, the first difference.
    pub fn batch(&mut self, ops: &[Op], first_index_hint: u64) -> Result<(), String> {
        let mut bytes = Vec::new();
        for op in ops {
            reply::encode(&op.args, &mut bytes);
        }
        let n = ops.len();
        let first_index = self.stats.commands;
        let _ = first_index_hint;
        let (ours, theirs) = {
            let (o, t) = (&mut self.ours, &mut self.theirs);
            std::thread::scope(|s| {
                let a = s.spawn(|| o.exchange(&bytes, n));
                let b = s.spawn(|| t.exchange(&bytes, n));
                (a.join().unwrap(), b.join().unwrap())
            })
        };
        self.stats.commands += n as u64;
        for (who, (got, err)) in [("redrepl", &ours), ("redis-server", &theirs)] {
            if let Some(e) = err {
                let i = got.len();
                return Err(format!(
                    "seed {}: {who} gave no reply to command #{} `{}` ({e}): crash or hang",
                    self.seed,
                    first_index + i as u64,
                    show_command(&ops[i.min(n - 1)].args)
                ));
            }
        }
        self.last_batch.clear();
        for (i, op) in ops.iter().enumerate() {
            let (a, b) = (&ours.0[i], &theirs.0[i]);
            let index = first_index + i as u64;
            self.last_batch.push(format!(
                "#{index} `{}`\n  redrepl:      {a}\n  redis-server: {b}",
                show_command(&op.args)
            ));
            if self.trace.contains(&index) {
                println!(
                    "#{index} `{}` {:?}\n  redrepl:      {a}\n  redis-server: {b}",
                    show_command(&op.args),
                    op.mode
                );
            }
            self.judging = index;
            if let Err(why) = self.judge(op, a, b) {
                let msg = format!(
                    "seed {}: command #{} `{}` ({:?}{}): {why}\n  redrepl:      {a}\n  redis-server: {b}",
                    self.seed,
                    first_index + i as u64,
                    show_command(&op.args),
                    op.mode,
                    if self.multi.is_some() {
                        ", in MULTI"
                    } else {
                        ""
                    }
                );
                if !self.keep_going {
                    return Err(msg);
                }
                self.stats.mismatches.push(msg);
            }
        }
        Ok(())
    }

    fn verdict(
        &mut self,
        mode: &Mode,
        args: &[Vec<u8>],
        a: &Reply,
        b: &Reply,
    ) -> Result<(), String> {
        if self.diverged {
            self.stats.skipped += 1;
            return Ok(());
        }
        // SORT ALPHA ties over a set or sorted set kept in a hash table: Redis loads the
        // elements in dict order (random per process), so equal weights come out in an order
        // that differs between any two servers; a STORE then stores different lists.
        if check::sort_ties_possible(args)
            && !self.disallowed.contains(&check::ALLOW_SORT_DICT_ORDER)
        {
            // With STORE, ALPHA compares whole strings: only BY weights can tie.
            let has = |w: &[u8]| args.iter().any(|a| a.eq_ignore_ascii_case(w));
            let stored = has(b"store") && has(b"by");
            // LIMIT picks a different slice of the tied order: same length, any members.
            let same_len = match (a, b) {
                (Reply::Array(x), Reply::Array(y)) => x.len() == y.len(),
                _ => false,
            };
            if (a != b && same_len || stored && a == b && !a.is_error()) && self.dict_ordered(args)
            {
                if self.multi.is_some() {
                    self.multi_allowed = Some(check::ALLOW_SORT_DICT_ORDER);
                } else {
                    self.diverged = true;
                }
                self.note_allowed(check::ALLOW_SORT_DICT_ORDER, args);
                return Ok(());
            }
        }
        let v = match check::compare(mode, a, b) {
            Verdict::Differ(why) => match check::allowed(args, a, b) {
                // Lex ranges over mixed scores are undefined only on a skiplist: a
                // listpack's walk is matched (zsets.rs `lex_walk`).
                Some(check::ALLOW_LEX_MIXED) if self.listpack_source(args) => {
                    Verdict::Differ(format!("{why} (lex range on a listpack)"))
                }
                Some(reason) if self.disallowed.contains(&reason) => {
                    Verdict::Differ(format!("{why} (allow-list entry turned off)"))
                }
                Some(reason) => {
                    // One side changed data the other did not: copy redis-server's data.
                    // Not after an idle time, which is no data: how often that difference
                    // shows depends on the machine's load, and a resynchronisation at a
                    // load-dependent moment made runs of one seed differ (issue #10).
                    if !(a.is_error() && b.is_error()) && reason != check::ALLOW_SHARED_INTEGER_IDLE
                    {
                        if self.multi.is_some() {
                            self.multi_allowed = Some(reason);
                        } else {
                            self.diverged = true;
                        }
                    }
                    Verdict::Allowed(reason)
                }
                None => Verdict::Differ(why),
            },
            Verdict::Allowed(reason) if self.disallowed.contains(&reason) => {
                Verdict::Differ(format!("allow-list entry turned off: {reason}"))
            }
            v => v,
        };
        match v {
            Verdict::Same => {
                if a != b {
                    *self.stats.loose.entry(format!("{mode:?}")).or_default() += 1;
                }
                Ok(())
            }
            Verdict::Allowed(why) => {
                self.note_allowed(why, args);
                Ok(())
            }
            Verdict::Differ(why) => Err(why),
        }
    }

    /// Counts an allowed difference (and prints it with `REDREPL_FUZZ_LOG_ALLOWED=1`).
    fn note_allowed(&mut self, why: &'static str, args: &[Vec<u8>]) {
        if self.log_allowed {
            println!(
                "fuzz: #{} `{}` allowed: {}",
                self.judging,
                show_command(args),
                &why[..why.len().min(60)]
            );
        }
        *self.stats.allowed.entry(why).or_default() += 1;
    }

    /// Whether SORT's key may be a sorted set or a set stored as a hash table on
    /// redis-server: SORT loads those in dict order.
    fn dict_ordered(&mut self, args: &[Vec<u8>]) -> bool {
        let Some(key) = args.get(1) else {
            return false;
        };
        // Read after the whole batch: the key may have changed since SORT ran, so only the
        // orders that are certainly defined are excluded (a list, an intset).
        let kind = self.theirs.call(&[b"TYPE", key]);
        let encoding = self.theirs.call(&[b"OBJECT", b"ENCODING", key]);
        !(kind.text() == Some(b"list") || encoding.text() == Some(b"intset"))
    }

    /// Whether the sorted set a lex range command read is (now) a listpack on redis-server.
    fn listpack_source(&mut self, args: &[Vec<u8>]) -> bool {
        let at = if args[0].eq_ignore_ascii_case(b"zrangestore") {
            2
        } else {
            1
        };
        let Some(key) = args.get(at) else {
            return false;
        };
        let r = self.theirs.call(&[b"OBJECT", b"ENCODING", key]);
        r.text() == Some(b"listpack")
    }

    /// Judges one pair of replies; redis-server's reply drives the MULTI bookkeeping.
    fn judge(&mut self, op: &Op, a: &Reply, b: &Reply) -> Result<(), String> {
        let name = upper(&op.args[0]);
        let bare = op.args.len() == 1;
        if let Some(queue) = &mut self.multi {
            match name.as_str() {
                "EXEC" => {
                    let queue = self.multi.take().unwrap();
                    if let Some(reason) = self.multi_allowed.take()
                        && a != b
                    {
                        self.note_allowed(reason, &op.args);
                        self.diverged = true;
                        return Ok(());
                    }
                    return match (a, b) {
                        (Reply::Array(x), Reply::Array(y))
                            if x.len() == y.len() && y.len() == queue.len() =>
                        {
                            for (((m, args), p), q) in queue.iter().zip(x).zip(y) {
                                self.verdict(m, args, p, q)?;
                            }
                            Ok(())
                        }
                        _ => self.verdict(&Mode::Exact, &op.args, a, b),
                    };
                }
                "DISCARD" | "RESET" if bare => {
                    self.multi = None;
                    self.multi_allowed = None;
                }
                _ => {
                    if b == &Reply::Simple(b"QUEUED".to_vec()) {
                        queue.push((op.mode.clone(), op.args.clone()));
                    }
                }
            }
            return self.verdict(&Mode::Exact, &op.args, a, b);
        }
        if name == "MULTI" && bare && b == &Reply::Simple(b"OK".to_vec()) {
            self.multi = Some(Vec::new());
        }
        match &op.mode {
            Mode::Pick {
                pairs,
                distinct,
                snapshot,
            } => {
                self.verdict(&op.mode, &op.args, a, b)?;
                if *snapshot && !self.diverged {
                    self.pick = Some((a.clone(), *pairs, *distinct));
                }
                Ok(())
            }
            Mode::Snapshot { pairs, after_pick } => {
                self.verdict(&op.mode, &op.args, a, b)?;
                if self.diverged {
                    self.pick = None;
                } else if *after_pick {
                    if let Some((pick, pick_pairs, distinct)) = self.pick.take() {
                        check::check_pick(&pick, a, pick_pairs, *pairs, distinct)?;
                    }
                } else {
                    self.pop_snapshot = Some(a.clone());
                }
                Ok(())
            }
            Mode::Pop => {
                let snap = self.pop_snapshot.take();
                if self.diverged {
                    return Ok(());
                }
                if a.is_error() || b.is_error() || a.kind() != b.kind() {
                    return self.verdict(&Mode::Exact, &op.args, a, b);
                }
                if let (Reply::Array(x), Reply::Array(y)) = (a, b)
                    && x.len() != y.len()
                {
                    return Err("SPOP popped a different number of members".into());
                }
                if let Some(s) = &snap {
                    check::check_pick(a, s, false, false, true)?;
                }
                if a != b {
                    *self.stats.loose.entry("Pop".into()).or_default() += 1;
                }
                if let Some(Reply::Array(members)) = snap {
                    let n = match b {
                        Reply::Array(y) => y.len(),
                        Reply::Bulk(_) => 1,
                        _ => 0,
                    };
                    let members = members.iter().filter_map(|m| m.text().map(<[u8]>::to_vec));
                    self.popped = Some((members.collect(), n));
                }
                Ok(())
            }
            m => self.verdict(m, &op.args, a, b),
        }
    }

    /// After a random SPOP: SCARD must agree, then the key is rebuilt on both servers (the
    /// members before it minus as many, the smallest; redis-server's TTL), so the two
    /// datasets stay in step and a seed's run does not depend on the members drawn.
    pub fn resync_set(&mut self, key: &[u8], index: u64) -> Result<(), String> {
        let card = Op::words(&["SCARD"]);
        let mut card = card;
        card.args.push(key.to_vec());
        self.batch(&[card], index)?;
        let at = self.theirs.call(&[b"PEXPIRETIME", key]);
        let ms: Vec<Vec<u8>> = match self.popped.take() {
            // The members left are the snapshot taken before SPOP minus as many as it
            // popped, the smallest: the same whatever the two servers drew, so that a run
            // of a seed does not depend on redis-server's random picks.
            Some((mut snap, n)) => {
                snap.sort();
                snap.split_off(n.min(snap.len()))
            }
            None => match self.theirs.call(&[b"SMEMBERS", key]) {
                Reply::Array(ms) => ms
                    .iter()
                    .filter_map(|m| m.text().map(<[u8]>::to_vec))
                    .collect(),
                _ => return Ok(()),
            },
        };
        let mut ops = vec![Op::words(&["DEL"])];
        ops[0].args.push(key.to_vec());
        if !ms.is_empty() {
            let mut sadd = Op::words(&["SADD"]);
            sadd.args.push(key.to_vec());
            sadd.args.extend(ms);
            ops.push(sadd);
            if let Reply::Int(at) = at
                && at > 0
            {
                let mut e = Op::words(&["PEXPIREAT"]);
                e.args.push(key.to_vec());
                e.args.push(at.to_string().into_bytes());
                ops.push(e);
            }
        }
        self.batch(&ops, index)
    }

    /// After an allowed difference that changed data: every key of the current database is
    /// copied from redis-server to redrepl (DUMP, RESTORE with the remaining TTL), an open
    /// MULTI is discarded on both, and judging resumes.
    pub fn copy_data(&mut self, generator: &mut Gen) -> Result<(), String> {
        if generator.in_multi {
            self.ours.call(&[b"DISCARD"]);
            self.theirs.call(&[b"DISCARD"]);
            generator.in_multi = false;
        }
        self.multi = None;
        self.multi_allowed = None;
        self.pick = None;
        self.pop_snapshot = None;
        self.popped = None;
        // The database the connection has selected (redis-server's CLIENT INFO says).
        let info = self.theirs.call(&[b"CLIENT", b"INFO"]);
        let text = String::from_utf8_lossy(info.text().unwrap_or_default()).into_owned();
        let selected = text
            .split(' ')
            .find_map(|f| f.strip_prefix("db="))
            .unwrap_or("0")
            .to_string();
        for db in self.databases_with_keys() {
            let db = db.to_string();
            self.ours.call(&[b"SELECT", db.as_bytes()]);
            self.theirs.call(&[b"SELECT", db.as_bytes()]);
            self.copy_db()?;
        }
        self.ours.call(&[b"SELECT", selected.as_bytes()]);
        self.theirs.call(&[b"SELECT", selected.as_bytes()]);
        self.stats.resyncs += 1;
        if self.log_allowed {
            println!("fuzz: resync after #{}", self.judging);
        }
        self.diverged = false;
        Ok(())
    }

    /// The databases either server holds keys in (INFO keyspace: `db3:keys=...`).
    fn databases_with_keys(&mut self) -> Vec<u32> {
        let mut dbs = Vec::new();
        for c in [&mut self.ours, &mut self.theirs] {
            let info = c.call(&[b"INFO", b"keyspace"]);
            let text = String::from_utf8_lossy(info.text().unwrap_or_default()).into_owned();
            for line in text.lines() {
                if let Some(n) = line.strip_prefix("db").and_then(|l| l.split(':').next())
                    && let Ok(n) = n.parse()
                {
                    dbs.push(n);
                }
            }
        }
        dbs.sort();
        dbs.dedup();
        dbs
    }

    /// Copies every key of the selected database from redis-server to redrepl.
    /// A key whose OBJECT ENCODING still differs after the copy is deleted on both: RESTORE
    /// picks the encoding by size, and Redis never converts a shrunk skiplist or hash table
    /// back, so the copy would leave an encoding difference neither server made.
    fn copy_db(&mut self) -> Result<(), String> {
        let mut keys = Vec::new();
        for c in [&mut self.ours, &mut self.theirs] {
            if let Reply::Array(ks) = c.call(&[b"KEYS", b"*"]) {
                keys.extend(ks.into_iter().filter_map(|k| k.text().map(|t| t.to_vec())));
            }
        }
        keys.sort();
        keys.dedup();
        let (src, dst) = (&mut self.theirs, &mut self.ours);
        for k in &keys {
            let dump = src.call(&[b"DUMP", k]);
            let at = src.call(&[b"PEXPIRETIME", k]);
            dst.call(&[b"DEL", k]);
            if let Reply::Bulk(p) = dump {
                let at = match at {
                    Reply::Int(ms) if ms > 0 => ms.to_string(),
                    _ => "0".to_string(),
                };
                let r = dst.call(&[b"RESTORE", k, at.as_bytes(), &p, b"ABSTTL"]);
                if r != Reply::Simple(b"OK".to_vec()) {
                    return Err(format!(
                        "seed {}: resync: redrepl refused redis-server's DUMP of {:?}: {r}",
                        self.seed,
                        String::from_utf8_lossy(k)
                    ));
                }
            }
        }
        for k in &keys {
            let o = self.ours.call(&[b"OBJECT", b"ENCODING", k]);
            let t = self.theirs.call(&[b"OBJECT", b"ENCODING", k]);
            if o != t {
                self.ours.call(&[b"DEL", k]);
                self.theirs.call(&[b"DEL", k]);
            }
        }
        Ok(())
    }

    /// Prints the watched key's TYPE and OBJECT ENCODING on both servers when they changed
    /// since the last batch (outside MULTI only: inside, the probes would be queued).
    fn print_watched(&mut self) {
        let Some(key) = self.watch.clone() else {
            return;
        };
        let mut now = String::new();
        for c in [&mut self.ours, &mut self.theirs] {
            let t = c.call(&[b"TYPE", &key]);
            let e = c.call(&[b"OBJECT", b"ENCODING", &key]);
            now.push_str(&format!(" {t}/{e}"));
        }
        if now != self.watched {
            println!(
                "fuzz: watch {:?} after command #{} (redrepl, redis-server):{now}",
                String::from_utf8_lossy(&key),
                self.stats.commands.saturating_sub(1)
            );
            self.watched = now;
        }
    }

    /// Compares DEBUG DIGEST (closing an open MULTI first).
    pub fn digest(&mut self, generator: &mut Gen, index: u64) -> Result<(), String> {
        let mut ops = Vec::new();
        if generator.in_multi {
            ops.push(Op::words(&["DISCARD"]));
            generator.in_multi = false;
        }
        ops.push(Op::words(&["DEBUG", "DIGEST"]));
        self.stats.digests += 1;
        let keep = self.keep_going;
        self.keep_going = false;
        let before = std::mem::take(&mut self.last_batch);
        let r = self.batch(&ops, index);
        self.keep_going = keep;
        r.map_err(|e| {
            format!(
                "{e}\n  (DEBUG DIGEST differs: the data diverged since the previous digest check; replay with REDREPL_FUZZ_DIGEST_EVERY=1 to find the command)\n  keys that differ: {}\n  the last batch before the digest:\n{}",
                self.differing_keys().join(", "),
                before.join("\n")
            )
        })
    }

    /// The keys (`db:key type/type`) whose type or DEBUG DIGEST-VALUE differ between the two
    /// servers, for a digest failure's report.
    fn differing_keys(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for db in self.databases_with_keys() {
            let db = db.to_string();
            let mut keys = Vec::new();
            for c in [&mut self.ours, &mut self.theirs] {
                c.call(&[b"SELECT", db.as_bytes()]);
                if let Reply::Array(ks) = c.call(&[b"KEYS", b"*"]) {
                    keys.extend(ks.into_iter().filter_map(|k| k.text().map(|t| t.to_vec())));
                }
            }
            keys.sort();
            keys.dedup();
            for k in &keys {
                let probe = |c: &mut Conn| {
                    (
                        c.call(&[b"TYPE", k]),
                        c.call(&[b"DEBUG", b"DIGEST-VALUE", k]),
                        c.call(&[b"PEXPIRETIME", k]),
                    )
                };
                let (o, t) = (probe(&mut self.ours), probe(&mut self.theirs));
                if o != t {
                    out.push(format!(
                        "db{db}:{} {}/{} expiry {}/{}",
                        String::from_utf8_lossy(k),
                        o.0,
                        t.0,
                        o.2,
                        t.2
                    ));
                }
            }
        }
        out
    }

    /// Runs `count` generated commands in batches of `batch`, with a digest check every
    /// `digest_every` commands and at the end.
    pub fn run(
        &mut self,
        generator: &mut Gen,
        count: u64,
        batch: usize,
        digest_every: u64,
    ) -> Result<(), String> {
        let mut next_digest = digest_every;
        while self.stats.generated < count {
            let first = self.stats.generated;
            let mut ops: Vec<Op> = Vec::with_capacity(batch + 4);
            let mut resync = None;
            while ops.len() < batch && self.stats.generated < count {
                let step = generator.next_ops();
                self.stats.generated += 1;
                resync = step.iter().find_map(|o| o.resync.clone());
                ops.extend(step);
                if resync.is_some() || self.stats.generated >= next_digest {
                    break;
                }
            }
            self.batch(&ops, first)?;
            if !generator.in_multi {
                self.print_watched();
            }
            let digest_due = self.stats.generated >= next_digest;
            // The copy waits until the transaction the generator opened is closed (or a
            // digest closes it): discarding it here would change what the generator draws
            // next, so a run's commands would depend on when an allowed difference came.
            if self.diverged && (!generator.in_multi || digest_due) {
                self.copy_data(generator)?;
                self.print_watched();
            } else if let Some(key) = resync {
                self.resync_set(&key, self.stats.generated)?;
            }
            if digest_due {
                self.digest(generator, self.stats.generated)?;
                next_digest += digest_every;
            }
        }
        if self.diverged {
            self.copy_data(generator)?;
        }
        self.digest(generator, self.stats.generated)
    }
}
