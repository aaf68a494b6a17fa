//! The lab: N "VMs" on this machine for integration tests.
//!
//! Each VM is a network namespace with a veth into a per-lab bridge, its own address in a
//! per-lab /24 and its own OpenSSH `sshd` (own ed25519 host key, root login by key). The lab
//! also makes a client ed25519 key and a known_hosts file holding every VM's host key.
//! Names and the subnet come from the test process id and a counter, so tests (and test
//! binaries) running in parallel never collide. Everything is torn down in `Drop`, also when
//! the test panics: the processes in the namespaces and the sshds are killed by PID, then the
//! namespaces, the bridge and the temporary directory are removed.
//!
//! Use from an integration test with `mod lab;`.
#![allow(dead_code)]

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const INSTALL_HINT: &str = "the lab tests need root, iproute2 and OpenSSH: run them as root \
     after `apt-get install -y openssh-server openssh-client iproute2`";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One VM of the lab.
#[derive(Debug)]
pub struct Vm {
    /// The network namespace.
    pub ns: String,
    /// The VM's address (IPv4).
    pub addr: String,
    /// The host end of the VM's veth (in the bridge); `link_down` sets it down.
    pub veth: String,
    /// The VM's host key, public half, as `ssh-ed25519 AAAA...`.
    pub host_key_pub: String,
    /// The VM's sshd log.
    pub sshd_log: PathBuf,
    sshd: Option<Child>,
}

/// A lab of N VMs; torn down when dropped.
#[derive(Debug)]
pub struct Lab {
    /// The VMs, in order.
    pub vms: Vec<Vm>,
    /// The bridge joining the VMs.
    pub bridge: String,
    /// The host's address on the bridge.
    pub host_addr: String,
    /// The lab's /24 prefix, as `10.x.y`.
    pub prefix: String,
    /// The client's private key (ed25519, no passphrase).
    pub key: PathBuf,
    /// A known_hosts file with every VM's host key.
    pub known_hosts: PathBuf,
    /// The lab's temporary directory.
    pub dir: PathBuf,
    tmp: Option<tempfile::TempDir>,
}

fn check_prerequisites() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        panic!("lab: not running as root (euid {euid}); {INSTALL_HINT}");
    }
    for bin in [SSHD, "ip", "ssh-keygen", "ssh"] {
        let found = if bin.starts_with('/') {
            Path::new(bin).exists()
        } else {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {bin}"))
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if !found {
            panic!("lab: `{bin}` not found; {INSTALL_HINT}");
        }
    }
}

/// Runs a command, panicking with its stderr when it fails.
fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("lab: cannot run {program}: {e}; {INSTALL_HINT}"));
    if !out.status.success() {
        panic!(
            "lab: `{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    out
}

/// Runs a command, ignoring any failure (teardown).
fn run_quiet(program: &str, args: &[&str]) {
    let _ = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn iface_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Makes an ed25519 key pair at `path` (and `path.pub`); returns the public line without
/// the comment.
fn keygen(path: &Path) -> String {
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "redrepl-lab",
            "-f",
            path.to_str().unwrap(),
        ],
    );
    let public = fs::read_to_string(path.with_extension("pub")).unwrap();
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The addresses already configured on this machine (to keep clear of them).
fn used_prefixes() -> String {
    String::from_utf8_lossy(&run("ip", &["-o", "-4", "addr", "show"]).stdout).into_owned()
}

impl Lab {
    /// Builds a lab of `n` VMs (1..=250), panicking with what to install when it cannot.
    pub fn new(n: usize) -> Lab {
        assert!((1..=250).contains(&n), "lab: 1 to 250 VMs");
        check_prerequisites();
        fs::create_dir_all("/run/sshd").expect("lab: cannot create /run/sshd");

        let pid = std::process::id();
        // Names: `rrb` + pid (hex, ≤ 6) + counter (hex, 2) + VM index: at most 15 chars.
        let (id, prefix) = loop {
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let id = format!("{pid:x}{:02x}", n % 256);
            if iface_exists(&format!("rrb{id}")) || netns_exists(&format!("rrns-{id}-0")) {
                continue;
            }
            // Subnet from pid and counter, skipping any /24 already in use here.
            let used = used_prefixes();
            let mut k = (pid as u64).wrapping_mul(64).wrapping_add(n as u64) % (50 * 256);
            let mut prefix;
            let mut tries = 0;
            loop {
                prefix = format!("10.{}.{}", 200 + k / 256, k % 256);
                if !used.contains(&format!(" {prefix}.")) {
                    break;
                }
                k = (k + 1) % (50 * 256);
                tries += 1;
                assert!(tries < 50 * 256, "lab: no free subnet in 10.200-249.x.0/24");
            }
            break (id, prefix);
        };

        let tmp = tempfile::Builder::new()
            .prefix("redrepl-lab-")
            .tempdir()
            .expect("lab: cannot create a temporary directory");
        let dir = tmp.path().to_path_buf();
        let mut lab = Lab {
            vms: Vec::new(),
            bridge: format!("rrb{id}"),
            host_addr: format!("{prefix}.254"),
            prefix: prefix.clone(),
            key: dir.join("id_ed25519"),
            known_hosts: dir.join("known_hosts"),
            dir: dir.clone(),
            tmp: Some(tmp),
        };
        // From here on a panic drops `lab`, which removes whatever was made.

        let client_pub = keygen(&lab.key);
        fs::write(dir.join("authorized_keys"), format!("{client_pub}\n")).unwrap();

        let bridge = lab.bridge.clone();
        run("ip", &["link", "add", &bridge, "type", "bridge"]);
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", lab.host_addr),
                "dev",
                &bridge,
            ],
        );
        run("ip", &["link", "set", &bridge, "up"]);

        let mut known_hosts = String::new();
        for i in 0..n {
            let ns = format!("rrns-{id}-{i}");
            let veth = format!("rrh{id}{i:x}");
            let peer = format!("rrp{id}{i:x}");
            let addr = format!("{prefix}.{}", i + 1);
            let host_key = dir.join(format!("host_key_{i}"));
            let host_key_pub = keygen(&host_key);
            run("ip", &["netns", "add", &ns]);
            lab.vms.push(Vm {
                ns: ns.clone(),
                addr: addr.clone(),
                veth: veth.clone(),
                host_key_pub: host_key_pub.clone(),
                sshd_log: dir.join(format!("sshd_{i}.log")),
                sshd: None,
            });
            run(
                "ip",
                &["link", "add", &veth, "type", "veth", "peer", "name", &peer],
            );
            run("ip", &["link", "set", &veth, "master", &bridge]);
            run("ip", &["link", "set", &veth, "up"]);
            run("ip", &["link", "set", &peer, "netns", &ns]);
            run("ip", &["-n", &ns, "link", "set", "lo", "up"]);
            run(
                "ip",
                &[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{addr}/24"),
                    "dev",
                    &peer,
                ],
            );
            run("ip", &["-n", &ns, "link", "set", &peer, "up"]);
            known_hosts.push_str(&format!("{addr} {host_key_pub}\n"));

            let log = fs::File::create(&lab.vms[i].sshd_log).unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", &ns, SSHD, "-D", "-e", "-f", "/dev/null"])
                .args(["-o", &format!("ListenAddress={addr}")])
                .args(["-o", "Port=22"])
                .args(["-o", &format!("HostKey={}", host_key.display())])
                .args([
                    "-o",
                    &format!("PidFile={}", dir.join(format!("sshd_{i}.pid")).display()),
                ])
                .args(["-o", "PermitRootLogin=prohibit-password"])
                .args([
                    "-o",
                    &format!(
                        "AuthorizedKeysFile={}",
                        dir.join("authorized_keys").display()
                    ),
                ])
                .args(["-o", "StrictModes=no"])
                .args(["-o", "UsePAM=no"])
                .args(["-o", "PasswordAuthentication=no"])
                .args(["-o", "KbdInteractiveAuthentication=no"])
                .args(["-o", "MaxStartups=100"])
                .args(["-o", "MaxSessions=100"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("lab: cannot start sshd: {e}; {INSTALL_HINT}"));
            lab.vms[i].sshd = Some(child);
        }
        fs::write(&lab.known_hosts, known_hosts).unwrap();

        // Wait until every sshd listens.
        for i in 0..n {
            lab.wait_sshd(i, Duration::from_secs(10));
        }
        lab
    }

    fn wait_sshd(&mut self, i: usize, timeout: Duration) {
        let start = Instant::now();
        let sock: SocketAddr = format!("{}:22", self.vms[i].addr).parse().unwrap();
        loop {
            if TcpStream::connect_timeout(&sock, Duration::from_millis(200)).is_ok() {
                return;
            }
            let exited = self.vms[i]
                .sshd
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || start.elapsed() > timeout {
                let log = fs::read_to_string(&self.vms[i].sshd_log).unwrap_or_default();
                panic!(
                    "lab: sshd of VM {i} ({}) is not listening ({}): {}",
                    self.vms[i].addr,
                    match exited {
                        Some(s) => format!("exited with {s}"),
                        None => "timed out".into(),
                    },
                    log.trim()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The address of VM `i`.
    pub fn addr(&self, i: usize) -> &str {
        &self.vms[i].addr
    }

    /// Cuts VM `i` off the bridge (its veth set down).
    pub fn link_down(&self, i: usize) {
        run("ip", &["link", "set", &self.vms[i].veth, "down"]);
    }

    /// Puts VM `i` back on the bridge.
    pub fn link_up(&self, i: usize) {
        run("ip", &["link", "set", &self.vms[i].veth, "up"]);
    }

    /// `ssh` client arguments (before the destination) that use the lab's key and known_hosts.
    pub fn ssh_args(&self) -> Vec<String> {
        vec![
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "ConnectTimeout=5".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-F".into(),
            "/dev/null".into(),
            "-i".into(),
            self.key.display().to_string(),
        ]
    }

    /// Runs `cmd` on VM `i` as root with the OpenSSH client.
    pub fn ssh(&self, i: usize, cmd: &str) -> Output {
        Command::new("ssh")
            .args(self.ssh_args())
            .arg(format!("root@{}", self.vms[i].addr))
            .arg(cmd)
            .stdin(Stdio::null())
            .output()
            .expect("lab: cannot run ssh")
    }

    /// Runs a command inside VM `i`'s namespace directly (no SSH).
    pub fn exec(&self, i: usize, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.vms[i].ns])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("lab: cannot run ip netns exec")
    }

    /// Starts `args` inside VM `i`'s namespace (`ip netns exec`) and returns only once the
    /// process is in it (`/proc/PID/ns/net` is the namespace's), so the lab's teardown, which
    /// kills by namespace, is sure to see it. `ip` enters the namespace and then execs the
    /// program under the same PID; until it has, the PID still lives in the host's namespace.
    pub fn spawn_in(&self, i: usize, args: &[&str]) -> Child {
        use std::os::unix::fs::MetadataExt;
        let ns = &self.vms[i].ns;
        let want = fs::metadata(Path::new("/run/netns").join(ns))
            .unwrap_or_else(|e| panic!("lab: namespace {ns}: {e}"))
            .ino();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("lab: cannot run ip netns exec");
        let link = format!("/proc/{}/ns/net", child.id());
        loop {
            let here = fs::read_link(&link).ok().and_then(|t| {
                let t = t.to_string_lossy().into_owned();
                t.strip_prefix("net:[")?
                    .strip_suffix(']')?
                    .parse::<u64>()
                    .ok()
            });
            if here == Some(want) {
                return child;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "lab: `ip netns exec {ns} {}` exited with {status}",
                    args.join(" ")
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The PIDs of the processes living in VM `i`'s namespace.
    pub fn pids(&self, i: usize) -> Vec<i32> {
        netns_pids(&self.vms[i].ns)
    }
}

fn netns_pids(ns: &str) -> Vec<i32> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Lab {
    fn drop(&mut self) {
        for vm in &mut self.vms {
            if let Some(mut child) = vm.sshd.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            // Whatever the test started in the namespace (sessions, servers): kill by PID,
            // a few rounds in case one forked while we looked.
            for _ in 0..5 {
                let pids = netns_pids(&vm.ns);
                if pids.is_empty() {
                    break;
                }
                for pid in pids {
                    // SAFETY: plain kill(2) on a PID living in our own namespace.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            run_quiet("ip", &["netns", "del", &vm.ns]);
            run_quiet("ip", &["link", "del", &vm.veth]);
        }
        run_quiet("ip", &["link", "del", &self.bridge]);
        if let Some(tmp) = self.tmp.take() {
            let _ = tmp.close();
        }
    }
}
