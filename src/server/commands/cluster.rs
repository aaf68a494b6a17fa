//! CLUSTER and the cluster-client commands READONLY, READWRITE and ASKING, as a Redis 7.0
//! with `cluster-enabled no` answers them: every one of them is
//! `ERR This instance has cluster support disabled` (after the usual unknown-subcommand
//! and arity checks).

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, container, spec};
use bytes::Bytes;

const DISABLED: CmdError = CmdError::fixed("ERR This instance has cluster support disabled");

/// CLUSTER's subcommands with their arity and flags (Redis 7.0's table).
const SUBCOMMANDS: &[(&str, i32, u32)] = &[
    ("cluster|addslots", -3, ADMIN | STALE),
    ("cluster|addslotsrange", -4, ADMIN | STALE),
    ("cluster|bumpepoch", 2, ADMIN | STALE),
    ("cluster|count-failure-reports", 3, ADMIN | STALE),
    ("cluster|countkeysinslot", 3, STALE),
    ("cluster|delslots", -3, ADMIN | STALE),
    ("cluster|delslotsrange", -4, ADMIN | STALE),
    ("cluster|failover", -2, ADMIN | STALE),
    ("cluster|flushslots", 2, ADMIN | STALE),
    ("cluster|forget", 3, ADMIN | STALE),
    ("cluster|getkeysinslot", 4, STALE),
    ("cluster|help", 2, LOADING | STALE),
    ("cluster|info", 2, STALE),
    ("cluster|keyslot", 3, STALE),
    ("cluster|links", 2, STALE),
    ("cluster|meet", -4, ADMIN | STALE),
    ("cluster|myid", 2, STALE),
    ("cluster|nodes", 2, STALE),
    ("cluster|replicas", 3, ADMIN | STALE),
    ("cluster|replicate", 3, ADMIN | STALE),
    ("cluster|reset", -2, ADMIN | STALE),
    ("cluster|saveconfig", 2, ADMIN | STALE),
    ("cluster|set-config-epoch", 3, ADMIN | STALE),
    ("cluster|setslot", -4, ADMIN | STALE),
    ("cluster|shards", 2, STALE),
    ("cluster|slaves", 3, ADMIN | STALE),
    ("cluster|slots", 2, STALE),
];

/// CLUSTER (every subcommand), READONLY, READWRITE, ASKING.
pub fn specs() -> Vec<Spec> {
    let subs = SUBCOMMANDS
        .iter()
        .map(|&(name, arity, flags)| spec(name, arity, flags, NO_KEYS, cluster_disabled))
        .collect();
    vec![
        spec("cluster", -2, 0, NO_KEYS, container).subcommands(subs),
        spec(
            "readonly",
            1,
            LOADING | STALE | FAST,
            NO_KEYS,
            cluster_disabled,
        ),
        spec(
            "readwrite",
            1,
            LOADING | STALE | FAST,
            NO_KEYS,
            cluster_disabled,
        ),
        spec("asking", 1, FAST, NO_KEYS, cluster_disabled),
    ]
}

/// Every cluster command: cluster support is disabled (there is no cluster mode here).
fn cluster_disabled(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(DISABLED)
}
