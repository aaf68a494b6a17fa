//! The differential command fuzzer (tests/fuzz_commands.rs): a seeded stream of commands
//! built from redis-server's COMMAND DOCS, sent to redrepl and redis-server side by side.

pub mod check;
pub mod docs;
pub mod families;
pub mod generate;
pub mod pools;
pub mod reply;
pub mod rng;
pub mod run;
pub mod table;
