//! Deploy and promote timings on a three-VM lab (network namespaces with OpenSSH; needs root),
//! run by `python3 bench/compare.py --only deploy`.
//!
//! For each engine: wall time of the first deploy (upload, config, start, sync, verify), of an
//! unchanged re-deploy, and of promote (from the command's start until its verify passed),
//! promoting back and forth `ROUNDS` times. Prints one JSON object per line.
//!
//! Usage: deploy_bench BINARY [ROUNDS] [ENGINE...]

#[path = "../tests/lab/mod.rs"]
mod lab;

use std::process::{Command, Stdio};
use std::time::Instant;

fn run(binary: &str, args: &[&str]) -> f64 {
    let start = Instant::now();
    let out = Command::new(binary)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run redrepl");
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!(
            "`redrepl {}` failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(1);
    }
    secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let binary = std::fs::canonicalize(
        args.get(1)
            .map(String::as_str)
            .unwrap_or("target/release/redrepl"),
    )
    .expect("the redrepl binary (cargo build --release)")
    .display()
    .to_string();
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let engines: Vec<String> = if args.len() > 3 {
        args[3..].to_vec()
    } else {
        vec!["bundled".into(), "redis".into()]
    };
    for engine in engines {
        let lab = lab::Lab::new(3);
        let mut y = format!(
            "cluster: bench\nengine: {engine}\nauth:\n  password: bench-password-0123456789\n\
             ssh:\n  user: root\n  identity_file: {}\n  known_hosts: {}\n\
             defaults:\n  port: 6379\n  bind: 0.0.0.0\n  protected_mode: false\n  dir: \"{}/data/{{node}}\"\nnodes:\n",
            lab.key.display(),
            lab.known_hosts.display(),
            lab.dir.display()
        );
        for i in 0..3 {
            let topo = if i == 0 {
                "role: master"
            } else {
                "replicaof: node1"
            };
            y.push_str(&format!(
                "  node{}:\n    host: {}\n    {topo}\n",
                i + 1,
                lab.addr(i)
            ));
        }
        let inv = lab.dir.join("inventory.yaml");
        std::fs::write(&inv, y).unwrap();
        let inv = inv.to_str().unwrap();

        let first = run(&binary, &["deploy", inv]);
        let redeploy = median(
            (0..rounds)
                .map(|_| run(&binary, &["deploy", inv]))
                .collect(),
        );
        let verify = median(
            (0..rounds)
                .map(|_| run(&binary, &["verify", inv]))
                .collect(),
        );
        let status = median(
            (0..rounds)
                .map(|_| run(&binary, &["status", inv]))
                .collect(),
        );
        let promote = median(
            (0..rounds)
                .map(|r| {
                    run(
                        &binary,
                        &["promote", inv, if r % 2 == 0 { "node2" } else { "node1" }],
                    )
                })
                .collect(),
        );
        println!(
            "{{\"engine\": \"{engine}\", \"nodes\": 3, \"first_deploy_s\": {first:.3}, \
             \"unchanged_redeploy_s\": {redeploy:.3}, \"promote_s\": {promote:.3}, \"verify_s\": {verify:.3}, \"status_s\": {status:.3}, \"rounds\": {rounds}}}"
        );
    }
}
