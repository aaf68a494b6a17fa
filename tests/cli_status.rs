//! `redrepl status --prometheus` and `status --watch` (in a real terminal: tmux) on the
//! three local nodes of `inventories/local.yaml` (free ports, temporary folder).

mod orch;

use orch::{LocalCluster, PASSWORD, cli, wait_for};
use std::process::Command;
use std::time::Duration;

fn write(port: u16, n: usize) {
    for i in 0..n {
        let ok = Command::new("redis-cli")
            .args(["--no-auth-warning", "-a", PASSWORD, "-p", &port.to_string()])
            .args(["set", &format!("k{i}"), "v"])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok);
    }
}

#[test]
fn local_status_prometheus_text_format() {
    let c = LocalCluster::new("bundled");
    cli("deploy", &c.inventory, &[]).expect(0, "deploy");
    let run = cli("status", &c.inventory, &["--prometheus"]).expect(0, "status --prometheus");
    let t = &run.stdout;
    let lbl = |node: &str, i: usize| {
        format!(
            "{{cluster=\"local\",node=\"{node}\",addr=\"127.0.0.1:{}\"}}",
            c.ports[i]
        )
    };
    for (i, node) in ["node1", "node2", "node3"].iter().enumerate() {
        assert!(
            t.contains(&format!("redrepl_node_up{} 1\n", lbl(node, i))),
            "{t}"
        );
    }
    assert!(
        t.contains(&format!("redrepl_node_is_master{} 1\n", lbl("node1", 0))),
        "{t}"
    );
    assert!(
        t.contains(&format!("redrepl_node_is_master{} 0\n", lbl("node2", 1))),
        "{t}"
    );
    assert!(
        t.contains(&format!("redrepl_replica_link_up{} 1\n", lbl("node3", 2))),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "redrepl_connected_replicas{} 2\n",
            lbl("node1", 0)
        )),
        "{t}"
    );
    assert!(
        t.contains("# TYPE redrepl_replica_lag_bytes gauge\n"),
        "{t}"
    );
    // Every sample line is `name{labels} integer`.
    for l in t.lines().filter(|l| !l.starts_with('#')) {
        let (_, v) = l.rsplit_once(' ').unwrap();
        assert!(v.parse::<i64>().is_ok(), "{l}");
    }
}

/// A tmux session killed on drop.
struct Tmux(String);

impl Tmux {
    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

#[test]
fn local_status_watch_in_a_terminal_moves_and_quits_on_q() {
    let c = LocalCluster::new("bundled");
    cli("deploy", &c.inventory, &[]).expect(0, "deploy");
    let name = format!("redrepl-watch-{}", std::process::id());
    let cmd = format!(
        "NO_COLOR=1 {} status {} --watch --interval 0.2; echo WATCH-EXITED $?; sleep 60",
        env!("CARGO_BIN_EXE_redrepl"),
        c.inventory.display()
    );
    let ok = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "200",
            "-y",
            "40",
            &cmd,
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok, "tmux new-session failed");
    let t = Tmux(name);
    wait_for("the watch table", Duration::from_secs(20), || {
        let s = t.capture();
        s.contains("q or Ctrl-C quits") && s.lines().any(|l| l.starts_with("node3"))
    });
    let offset_of_node1 = |s: &str| -> Option<i64> {
        let l = s.lines().find(|l| l.starts_with("node1"))?;
        // NODE ADDRESS UP ROLE [MASTER LINK: '-' '-'] OFFSET
        l.split_whitespace().nth(6)?.parse().ok()
    };
    let before = offset_of_node1(&t.capture()).expect("node1's offset on screen");
    write(c.ports[0], 20);
    wait_for(
        "node1's offset to move on screen",
        Duration::from_secs(20),
        || offset_of_node1(&t.capture()).is_some_and(|o| o > before),
    );
    // Lag in ms (from the master's offsets over time), memory and the AOF per node.
    wait_for("the replicas' lag in ms", Duration::from_secs(20), || {
        let s = t.capture();
        let header = s.lines().find(|l| l.starts_with("NODE")).unwrap_or("");
        header.contains("LAG MS")
            && header.contains("MEMORY")
            && header.contains("AOF")
            && s.lines()
                .filter(|l| l.starts_with("node2") || l.starts_with("node3"))
                .all(|l| l.contains(" ms ") && l.contains(" off "))
    });
    // Redrawn in place: one header on screen.
    assert_eq!(t.capture().matches("q or Ctrl-C quits").count(), 1);
    Command::new("tmux")
        .args(["send-keys", "-t", &t.0, "q"])
        .status()
        .unwrap();
    wait_for("the watch to exit on q", Duration::from_secs(20), || {
        t.capture().contains("WATCH-EXITED 0")
    });
}
