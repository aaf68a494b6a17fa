//! COMMAND and its subcommands (COUNT, LIST, INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, HELP):
//! the command table as Redis 7.0 describes it, answered from Redis's own metadata
//! (`meta`) for the commands redrepl implements.

use super::flags::*;
use super::meta::{Meta, keys};
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, err, is, spec};
use bytes::Bytes;

/// The COMMAND container.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("command", -1, LOADING | STALE, NO_KEYS, command).subcommands(vec![
            spec("command|count", 2, LOADING | STALE, NO_KEYS, count),
            spec("command|list", -2, LOADING | STALE, NO_KEYS, list),
            spec("command|info", -2, LOADING | STALE, NO_KEYS, info),
            spec("command|docs", -2, LOADING | STALE, NO_KEYS, docs),
            spec("command|getkeys", -4, LOADING | STALE, NO_KEYS, getkeys),
            spec(
                "command|getkeysandflags",
                -4,
                LOADING | STALE,
                NO_KEYS,
                getkeysandflags,
            ),
            spec("command|help", 2, LOADING | STALE, NO_KEYS, help),
        ]),
    ]
}

/// The implemented top-level commands (not those `rename-command` removed), sorted by name (Redis's order is its dict's, which clients do not rely on).
fn top_level() -> Vec<&'static Spec> {
    let mut all: Vec<&'static Spec> = super::table()
        .values()
        .filter(|s| !super::rename::is_disabled(s.name))
        .collect();
    all.sort_unstable_by_key(|s| s.name);
    all
}

/// An implemented command or subcommand by full name (`get`, `client|list`), as Redis's
/// lookupCommandBySds.
fn by_full_name(name: &[u8]) -> Option<&'static Spec> {
    let name = std::str::from_utf8(name).ok()?;
    match name.split_once('|') {
        Some((base, sub)) if !sub.contains('|') => {
            super::lookup(base.as_bytes())?.subcommand(sub.as_bytes())
        }
        Some(_) => None,
        None => super::lookup(name.as_bytes()),
    }
}

/// The metadata of an implemented command (every one has some: a unit test checks it).
fn meta_of(s: &Spec) -> Option<&'static Meta> {
    s.meta()
}

/// One COMMAND INFO entry: Redis's ten fields, with the implemented subcommands.
fn write_info(ctx: &mut Ctx, s: &Spec) {
    let Some(m) = meta_of(s) else {
        ctx.out.null();
        return;
    };
    // Every field but the last (subcommands), which lists what is implemented.
    let fields = m.info.items().split_last().map_or(&[][..], |(_, f)| f);
    ctx.out.array(fields.len() + 1);
    for item in fields {
        item.write(ctx.out);
    }
    // As Redis: an empty set without subcommands, an array of them otherwise.
    if s.subcommands.is_empty() {
        ctx.out.set(0);
    } else {
        ctx.out.array(s.subcommands.len());
    }
    for sub in &s.subcommands {
        write_info(ctx, sub);
    }
}

/// One COMMAND DOCS entry (a map), with the implemented subcommands last, as Redis.
fn write_docs(ctx: &mut Ctx, s: &Spec) {
    let pairs = meta_of(s).map_or(&[][..], |m| m.docs.pairs());
    let with_subs = !s.subcommands.is_empty();
    ctx.out.map(pairs.len() + with_subs as usize);
    for (k, v) in pairs {
        k.write(ctx.out);
        v.write(ctx.out);
    }
    if with_subs {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(s.subcommands.len());
        for sub in &s.subcommands {
            ctx.out.bulk(sub.name.as_bytes());
            write_docs(ctx, sub);
        }
    }
}

/// COMMAND: COMMAND INFO of every implemented command.
fn command(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let all = top_level();
    ctx.out.array(all.len());
    for s in all {
        write_info(ctx, s);
    }
    Ok(())
}

/// COMMAND COUNT: the number of implemented top-level commands.
fn count(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(top_level().len() as i64);
    Ok(())
}

/// What COMMAND LIST FILTERBY keeps.
enum Filter<'a> {
    /// No filter: everything.
    All,
    /// Commands of a module: none here.
    Module,
    /// Commands in an ACL category (case-insensitive, without the `@`).
    AclCat(&'a [u8]),
    /// Full names matching a glob pattern (case-insensitive).
    Pattern(&'a [u8]),
}

impl Filter<'_> {
    fn keeps(&self, s: &Spec) -> bool {
        match self {
            Filter::All => true,
            Filter::Module => false,
            Filter::AclCat(cat) => meta_of(s).is_some_and(|m| {
                m.acl_categories.iter().any(|c| {
                    c.strip_prefix('@')
                        .unwrap_or(c)
                        .as_bytes()
                        .eq_ignore_ascii_case(cat)
                })
            }),
            Filter::Pattern(p) => crate::server::glob::glob_match(p, s.name.as_bytes(), true),
        }
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: the full names of
/// the implemented commands and subcommands.
fn list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let filter = match args.len() {
        2 => Filter::All,
        5 if is(&args[2], "filterby") => {
            let (kind, value) = (&args[3], &args[4][..]);
            if is(kind, "module") {
                Filter::Module
            } else if is(kind, "aclcat") {
                Filter::AclCat(value)
            } else if is(kind, "pattern") {
                Filter::Pattern(value)
            } else {
                return Err(err::SYNTAX);
            }
        }
        _ => return Err(err::SYNTAX),
    };
    let mut names = Vec::new();
    for s in top_level() {
        for c in std::iter::once(s).chain(&s.subcommands) {
            if filter.keeps(c) {
                names.push(c.name);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// COMMAND INFO [name ...]: every implemented command, or the named ones (nil for a name
/// that is not implemented).
fn info(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 {
        return command(ctx, args);
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match by_full_name(name) {
            Some(s) => write_info(ctx, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// COMMAND DOCS [name ...]: a map from name to documentation, for every implemented command
/// or for the named ones that are (others are left out).
fn docs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found: Vec<&'static Spec> = if args.len() == 2 {
        top_level()
    } else {
        args[2..].iter().filter_map(|n| by_full_name(n)).collect()
    };
    ctx.out.map(found.len());
    for s in found {
        ctx.out.bulk(s.name.as_bytes());
        write_docs(ctx, s);
    }
    Ok(())
}

/// COMMAND GETKEYS command [arg ...]: the key arguments of a full command.
fn getkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found = keys_of(&args[2..])?;
    ctx.out.array(found.len());
    for (i, _) in found {
        ctx.out.bulk(&args[2 + i]);
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]: each key argument with its key-spec flags.
fn getkeysandflags(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found = keys_of(&args[2..])?;
    ctx.out.array(found.len());
    for (i, flags) in found {
        ctx.out.array(2);
        ctx.out.bulk(&args[2 + i]);
        ctx.out.set(flags.len());
        for f in flags {
            ctx.out.simple(f);
        }
    }
    Ok(())
}

/// The keys of the command in `cmd` (its name first), as Redis's getKeysSubcommandImpl.
fn keys_of(cmd: &[Bytes]) -> Result<Vec<(usize, &'static [&'static str])>, CmdError> {
    let Some(s) = super::resolve(cmd) else {
        return Err(CmdError::fixed("ERR Invalid command specified"));
    };
    let Some(m) = meta_of(s).filter(|m| keys::has_keys(m)) else {
        return Err(CmdError::fixed("ERR The command has no key arguments"));
    };
    let n = cmd.len() as i64;
    if (m.arity > 0 && m.arity != n) || n < -m.arity {
        return Err(CmdError::fixed(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let args: Vec<&[u8]> = cmd.iter().map(|a| &a[..]).collect();
    let found = keys::getkeys(m, &args);
    if found.is_empty() && !m.has_flag("no_mandatory_keys") {
        return Err(CmdError::fixed(
            "ERR Invalid arguments specified for command",
        ));
    }
    Ok(found)
}

/// COMMAND HELP: Redis 7.0's text.
fn help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}
