//! MODULE LIST / LOAD / LOADEX / UNLOAD / HELP. This server loads no modules: LIST is
//! empty; LOAD, LOADEX and UNLOAD are refused unless `enable-module-command` allows them
//! (Redis's protected-command check and message), then fail as redis-server does for a
//! module that cannot be loaded or is not loaded.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, container, spec};
use bytes::Bytes;

/// The MODULE command.
pub fn specs() -> Vec<Spec> {
    vec![spec("module", -2, 0, NO_KEYS, container).subcommands(vec![
        spec("module|list", 2, ADMIN, NO_KEYS, module_list),
        spec("module|load", -3, ADMIN, NO_KEYS, module_load),
        spec("module|loadex", -3, ADMIN, NO_KEYS, module_load),
        spec("module|unload", 3, ADMIN, NO_KEYS, module_unload),
        spec("module|help", 2, LOADING | STALE, NO_KEYS, module_help),
    ])]
}

/// MODULE LIST: no modules.
fn module_list(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

/// enable-module-command (`no` by default, `yes`, or `local` for local connections).
pub(super) fn allowed(ctx: &Ctx) -> Result<(), CmdError> {
    let setting = ctx
        .state
        .config
        .other
        .get("enable-module-command")
        .and_then(|v| v.first())
        .map_or("no", |s| s.as_str());
    let ok = setting.eq_ignore_ascii_case("yes")
        || (setting.eq_ignore_ascii_case("local") && ctx.client.is_local);
    if ok {
        Ok(())
    } else {
        Err(CmdError::fixed(
            "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ))
    }
}

/// MODULE LOAD path [arg ...] / MODULE LOADEX path [CONFIG name value ...] [ARGS ...]:
/// nothing can be loaded (the failure is logged as redis-server logs it).
fn module_load(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    allowed(ctx)?;
    let path = String::from_utf8_lossy(&args[2]);
    crate::warning!("Module {path} failed to load: this server does not load modules");
    Err(CmdError::fixed(
        "ERR Error loading the extension. Please check the server logs.",
    ))
}

/// MODULE UNLOAD name: no module is loaded.
fn module_unload(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    allowed(ctx)?;
    Err(CmdError::fixed(
        "ERR Error unloading module: no such module with that name",
    ))
}

/// MODULE HELP.
fn module_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
    Ok(())
}
