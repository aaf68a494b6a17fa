//! Side by side with redis-server: [`Pair`] starts redrepl and Debian's redis-server (DEBUG
//! enabled on both), sends every command to both and asserts equal replies; `digest` compares
//! DEBUG DIGEST, so the datasets are equal too.

use super::{Kind, Server};
use redis::Value;

/// redrepl and redis-server, each with one open connection.
pub struct Pair {
    /// redrepl.
    pub ours: Server,
    /// redis-server.
    pub real: Server,
    ours_con: redis::Connection,
    real_con: redis::Connection,
}

/// A reply as a comparable string (errors included).
pub fn show(r: redis::RedisResult<Value>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("ERROR {:?} {:?}", e.code(), e.detail()),
    }
}

fn run(con: &mut redis::Connection, args: &[&[u8]]) -> String {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        c.arg(*a);
    }
    show(c.query::<Value>(con))
}

impl Pair {
    /// Both servers, started with the same extra `--name value` arguments.
    pub fn new(extra: &[&str]) -> Pair {
        let ours = Server::builder(Kind::Redrepl)
            .debug_command(true)
            .args(extra)
            .start();
        let real = Server::builder(Kind::Redis)
            .debug_command(true)
            .args(extra)
            .start();
        Pair {
            ours_con: ours.conn(),
            real_con: real.conn(),
            ours,
            real,
        }
    }

    /// Sends binary arguments to both; asserts equal replies and returns ours.
    pub fn cmp_bytes(&mut self, args: &[&[u8]]) -> String {
        let a = run(&mut self.ours_con, args);
        let b = run(&mut self.real_con, args);
        assert_eq!(
            a,
            b,
            "command {:?}",
            args.iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect::<Vec<_>>()
        );
        a
    }

    /// Sends `args` to both; asserts equal replies and returns ours.
    pub fn cmp(&mut self, args: &[&str]) -> String {
        let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmp_bytes(&v)
    }

    /// Each line split on spaces and compared with [`Pair::cmp`].
    pub fn script(&mut self, lines: &[&str]) {
        for l in lines {
            let args: Vec<&str> = l.split(' ').collect();
            self.cmp(&args);
        }
    }

    /// Sends `args` to both; returns (ours, redis-server's) without comparing.
    pub fn both(&mut self, args: &[&str]) -> (String, String) {
        let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        (run(&mut self.ours_con, &v), run(&mut self.real_con, &v))
    }

    /// Asserts equal DEBUG DIGEST (the whole dataset).
    pub fn digest(&mut self) {
        self.cmp(&["debug", "digest"]);
    }

    /// Our connection.
    pub fn ours_con(&mut self) -> &mut redis::Connection {
        &mut self.ours_con
    }

    /// Both connections: (ours, redis-server's).
    pub fn cons(&mut self) -> (&mut redis::Connection, &mut redis::Connection) {
        (&mut self.ours_con, &mut self.real_con)
    }

    /// redis-server's connection.
    pub fn real_con(&mut self) -> &mut redis::Connection {
        &mut self.real_con
    }
}
