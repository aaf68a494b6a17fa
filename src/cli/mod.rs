//! The orchestrator: inventory model, validation, rendering and the subcommands built on them.
//! Library code returns typed errors; the `run_*` functions are the CLI edge and use anyhow.

pub mod cluster;
pub mod files;
pub mod init;
pub mod inventory;
pub mod password;
pub mod render;
pub mod secret;
pub mod ssh;
pub mod template;
pub mod validate;

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status for any failure other than bad input.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for bad input: an inventory that does not parse or does not validate.
pub const EXIT_BAD_INPUT: u8 = 2;

/// The exit status for an error: [`EXIT_BAD_INPUT`] when it comes from the inventory's content,
/// [`EXIT_FAILURE`] otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|e| {
        e.is::<validate::Problems>()
            || matches!(
                e.downcast_ref::<inventory::LoadError>(),
                Some(inventory::LoadError::Parse { .. })
            )
            || matches!(
                e.downcast_ref::<init::InitError>(),
                Some(init::InitError::NoHosts)
            )
    });
    if bad_input {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILURE
    }
}

/// Prints an error and its causes, one per line, to stderr.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// The folder an inventory file's relative paths are resolved against.
fn inventory_dir(path: &Path) -> anyhow::Result<PathBuf> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(parent)
        .with_context(|| format!("cannot resolve the folder of {}", path.display()))
}

/// Loads and validates an inventory; returns the cluster and the inventory's folder.
pub fn load_cluster(path: &Path) -> anyhow::Result<(cluster::Cluster, PathBuf)> {
    let inv = inventory::load(path)?;
    let dir = inventory_dir(path)?;
    let cluster = validate::validate(&inv, &dir, &validate::process_env)
        .with_context(|| format!("{} is not valid", path.display()))?;
    Ok((cluster, dir))
}

/// `redrepl init [DIR] [--hosts a,b,c] [--force]`.
pub fn run_init(dir: &Path, hosts: Option<&[String]>, force: bool) -> anyhow::Result<()> {
    let written = init::init(dir, hosts, force).context("init failed")?;
    for p in &written {
        println!("wrote {}", p.display());
    }
    println!(
        "a random 32-character password is in auth.password of {} (not shown here)",
        written[0].display()
    );
    Ok(())
}

/// `redrepl render INVENTORY [--out DIR]`.
pub fn run_render(inventory: &Path, out: Option<&Path>) -> anyhow::Result<()> {
    let (cluster, dir) = load_cluster(inventory)?;
    let template = template::Template::for_inventory(&dir)?;
    let out = out
        .map(Path::to_owned)
        .unwrap_or_else(|| dir.join("rendered"));
    let written = render::render_to_dir(&cluster, &template, &out).context("render failed")?;
    println!("template: {}", template.origin());
    for p in &written {
        println!("wrote {}", p.display());
    }
    Ok(())
}
