//! The lab harness itself: VMs come up with a working sshd each, and labs never collide.

mod lab;

use lab::Lab;
use std::path::Path;

fn check_vm(lab: &Lab, i: usize) {
    let out = lab.ssh(i, "hostname && ip -o -4 addr show");
    assert!(
        out.status.success(),
        "ssh to VM {i} ({}) failed: {}",
        lab.addr(i),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The session runs inside the VM's namespace: it sees its own address and no other VM's.
    assert!(
        stdout.contains(&format!("inet {}/24", lab.addr(i))),
        "{stdout}"
    );
    for (j, vm) in lab.vms.iter().enumerate() {
        if j != i {
            assert!(!stdout.contains(&format!("inet {}/", vm.addr)), "{stdout}");
        }
    }
}

#[test]
fn three_vms_accept_the_client_key() {
    let lab = Lab::new(3);
    assert_eq!(lab.vms.len(), 3);
    for i in 0..3 {
        check_vm(&lab, i);
    }
    // VMs reach each other over the bridge.
    let out = lab.ssh(
        0,
        &format!("exec 3<>/dev/tcp/{}/22 && head -c 7 <&3", lab.addr(2)),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SSH-2.0");
}

#[test]
fn a_cut_link_makes_the_vm_unreachable_until_restored() {
    let lab = Lab::new(2);
    lab.link_down(1);
    let out = lab.ssh(1, "true");
    assert!(!out.status.success());
    lab.link_up(1);
    // The link takes a moment to come back (bridge port state).
    let mut ok = false;
    for _ in 0..50 {
        if lab.ssh(1, "true").status.success() {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok, "VM 1 unreachable after link_up");
}

#[test]
fn two_labs_in_parallel_do_not_collide_and_are_torn_down() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Lab::new(2));
        let b = s.spawn(|| Lab::new(2));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.bridge, b.bridge);
    assert_ne!(a.prefix, b.prefix);
    for i in 0..2 {
        check_vm(&a, i);
        check_vm(&b, i);
    }
    // A's client key is not authorised on B's VMs.
    let out = std::process::Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .args(["-o", "StrictHostKeyChecking=yes"])
        .args([
            "-o",
            &format!("UserKnownHostsFile={}", b.known_hosts.display()),
        ])
        .args(["-i", a.key.to_str().unwrap()])
        .arg(format!("root@{}", b.addr(0)))
        .arg("true")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());

    let bridge = a.bridge.clone();
    let ns = a.vms[0].ns.clone();
    let dir = a.dir.clone();
    // A process the test started in a namespace is killed at teardown. `spawn_in` returns
    // once the process is inside the namespace (before that, teardown cannot see it).
    let mut child = a.spawn_in(0, &["sleep", "1000"]);
    let pid = child.id() as i32;
    drop(a);
    assert!(!Path::new("/sys/class/net").join(&bridge).exists());
    assert!(!Path::new("/run/netns").join(&ns).exists());
    assert!(!dir.exists());
    // Teardown has returned: the process must already be gone (a zombie at most). Should it
    // have survived, kill it ourselves rather than wait for it, and fail.
    let exited = child.try_wait().unwrap();
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let status = exited.unwrap_or_else(|| panic!("sleep {pid} survived the lab's teardown"));
    assert!(!status.success(), "sleep {pid} was not killed");
    // B is still fine.
    check_vm(&b, 1);
}

#[test]
fn a_panicking_test_still_tears_the_lab_down() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let lab = Lab::new(1);
        tx.send((lab.bridge.clone(), lab.vms[0].ns.clone(), lab.dir.clone()))
            .unwrap();
        panic!("test failure inside the lab");
    })
    .join();
    assert!(result.is_err());
    let (bridge, ns, dir) = rx.recv().unwrap();
    assert!(!Path::new("/sys/class/net").join(&bridge).exists());
    assert!(!Path::new("/run/netns").join(&ns).exists());
    assert!(!dir.exists());
}
