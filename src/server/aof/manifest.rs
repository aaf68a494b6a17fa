//! The AOF manifest (Redis 7.0's multi-part AOF): which base, history and incr files make up
//! the append-only file, one `file <name> seq <n> type b|h|i` line each, written atomically.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// What part of the AOF a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The base: a snapshot (RDB or commands) the incr files apply on top of.
    Base,
    /// A file made obsolete by a rewrite, deleted by the next GC.
    History,
    /// An incremental file of commands.
    Incr,
}

impl Part {
    fn letter(self) -> &'static str {
        match self {
            Part::Base => "b",
            Part::History => "h",
            Part::Incr => "i",
        }
    }
}

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    /// File name inside the AOF directory.
    pub name: String,
    /// Sequence number.
    pub seq: u64,
    /// Its part.
    pub part: Part,
}

/// The manifest: base, history and incr files, and the sequence numbers in use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofFile>,
    /// Incr files, oldest first (the last one is written to).
    pub incrs: Vec<AofFile>,
    /// History files waiting for deletion.
    pub history: Vec<AofFile>,
    /// Highest base sequence number used.
    pub base_seq: u64,
    /// Highest incr sequence number used.
    pub incr_seq: u64,
}

/// Longest manifest line Redis accepts.
const MAX_LINE: usize = 1024;

impl Manifest {
    /// Parses a manifest's text with Redis's rules (`#` comments, keys in any order).
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for line in text.split('\n') {
            if line.len() > MAX_LINE {
                return Err("The AOF manifest file contains too long line".into());
            }
            let line = line.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if !words.len().is_multiple_of(2) {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut part) = (None, None, None);
            for kv in words.chunks(2) {
                match kv[0] {
                    "file" => name = Some(kv[1].to_string()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => {
                        part = match kv[1] {
                            "b" => Some(Part::Base),
                            "h" => Some(Part::History),
                            "i" => Some(Part::Incr),
                            _ => None,
                        }
                    }
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(part)) = (name, seq, part) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if name.contains('/') {
                return Err("Invalid AOF manifest file format".into());
            }
            let f = AofFile { name, seq, part };
            match part {
                Part::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base_seq = seq;
                    m.base = Some(f);
                }
                Part::History => m.history.push(f),
                Part::Incr => {
                    if seq <= m.incr_seq {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incr_seq = seq;
                    m.incrs.push(f);
                }
            }
        }
        if m.base.is_none() && m.incrs.is_empty() && m.history.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest's text as Redis writes it: base, history, then incr files.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let all = self.base.iter().chain(&self.history).chain(&self.incrs);
        for f in all {
            s.push_str(&format!(
                "file {} seq {} type {}\n",
                f.name,
                f.seq,
                f.part.letter()
            ));
        }
        s
    }

    /// Every file loading reads, in order: the base, then the incr files.
    pub fn load_order(&self) -> Vec<&AofFile> {
        self.base.iter().chain(&self.incrs).collect()
    }

    /// Adds a new incr file (next sequence number) and returns its name.
    pub fn new_incr(&mut self, prefix: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{prefix}.{}.incr.aof", self.incr_seq);
        self.incrs.push(AofFile {
            name: name.clone(),
            seq: self.incr_seq,
            part: Part::Incr,
        });
        name
    }

    /// The name the next base file takes (`.base.rdb` with an RDB preamble, else `.base.aof`).
    pub fn next_base_name(&self, prefix: &str, rdb: bool) -> (String, u64) {
        let seq = self.base_seq + 1;
        let ext = if rdb { "rdb" } else { "aof" };
        (format!("{prefix}.{seq}.base.{ext}"), seq)
    }

    /// After a rewrite: `name` becomes the base; the old base and every incr file become
    /// history, but the last when `writing` (the AOF is on: that file, opened when the
    /// rewrite started, is the one being appended to), as Redis's
    /// markRewrittenIncrAofAsHistory.
    pub fn install_base(&mut self, name: String, seq: u64, writing: bool) {
        if let Some(mut old) = self.base.take() {
            old.part = Part::History;
            self.history.push(old);
        }
        let keep = if writing { self.incrs.pop() } else { None };
        for mut f in self.incrs.drain(..) {
            f.part = Part::History;
            self.history.push(f);
        }
        self.incrs.extend(keep);
        self.base_seq = seq;
        self.base = Some(AofFile {
            name,
            seq,
            part: Part::Base,
        });
    }

    /// Writes the manifest as `dir/name`: temp file, fsync, rename, directory fsync.
    pub fn persist(&self, dir: &Path, name: &str) -> io::Result<()> {
        let tmp = dir.join(format!("temp-{name}"));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(self.to_text().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, dir.join(name))?;
            File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_redis_manifests() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.to_text(), text);
        assert_eq!(m.load_order().len(), 2);
        // Keys in any order, comments and CRLF.
        let m2 = Manifest::parse("# x\r\ntype b seq 1 file a.rdb\r\n").unwrap();
        assert_eq!(m2.base.unwrap().name, "a.rdb");
        assert!(Manifest::parse("file x seq 1\n").is_err());
        assert!(Manifest::parse("").is_err());
        assert!(Manifest::parse("file ../x seq 1 type b\n").is_err());
    }

    #[test]
    fn a_rewrite_moves_old_files_to_history() {
        let mut m =
            Manifest::parse("file p.1.base.rdb seq 1 type b\nfile p.1.incr.aof seq 1 type i\n")
                .unwrap();
        let incr = m.new_incr("p");
        assert_eq!(incr, "p.2.incr.aof");
        let (name, seq) = m.next_base_name("p", true);
        m.install_base(name, seq, true);
        assert_eq!(
            m.to_text(),
            "file p.2.base.rdb seq 2 type b\nfile p.1.base.rdb seq 1 type h\nfile p.1.incr.aof seq 1 type h\nfile p.2.incr.aof seq 2 type i\n"
        );
    }
}
