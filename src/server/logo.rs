//! The start-up banner: Redis's ASCII logo with the version, mode, port and PID lines
//! (tools and scripts look for ` PID: <pid>`), or the one-line `Running mode=..., port=...`
//! notice, chosen as redis-server chooses (server.c, `redisAsciiArt`).

use crate::config::{Config, LogLevel};

/// Redis's logo (asciilogo.h), line by line with its padding; `{version}`, `{mode}`,
/// `{port}` and `{pid}` are filled in.
const LOGO: &[&str] = &[
    "                _._                                                  ",
    "           _.-``__ ''-._                                             ",
    "      _.-``    `.  `_.  ''-._           Redis {version} (00000000/0) 64 bit",
    "  .-`` .-```.  ```\\/    _.,_ ''-._                                  ",
    " (    '      ,       .-`  | `,    )     Running in {mode} mode",
    " |`-._`-...-` __...-.``-._|'` _.-'|     Port: {port}",
    " |    `-._   `._    /     _.-'    |     PID: {pid}",
    "  `-._    `-._  `-./  _.-'    _.-'                                   ",
    " |`-._`-._    `-.__.-'    _.-'_.-'|                                  ",
    " |    `-._`-._        _.-'_.-'    |           https://redis.io       ",
    "  `-._    `-._`-.__.-'_.-'    _.-'                                   ",
    " |`-._`-._    `-.__.-'    _.-'_.-'|                                  ",
    " |    `-._`-._        _.-'_.-'    |                                  ",
    "  `-._    `-._`-.__.-'_.-'    _.-'                                   ",
    "      `-._    `-.__.-'    _.-'                                       ",
    "          `-._        _.-'                                           ",
    "              `-.__.-'                                               ",
];

/// Whether redis-server would print the logo: `always-show-logo yes`, or the log goes to
/// stdout and stdout is a terminal.
pub fn wanted(config: &Config) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    config.always_show_logo || (config.logfile.is_empty() && unsafe { libc::isatty(1) } == 1)
}

/// The logo text (ending with an empty line, as Redis's does) for a standalone server.
pub fn render(version: &str, port: u16, pid: u32) -> String {
    let mut out = String::new();
    for line in LOGO {
        out.push_str(
            &line
                .replace("{version}", version)
                .replace("{mode}", "standalone")
                .replace("{port}", &port.to_string())
                .replace("{pid}", &pid.to_string()),
        );
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Prints the logo (raw, no log prefix) or the `Running mode=standalone, port=N.` line.
pub fn show(config: &Config, version: &str) {
    if wanted(config) {
        super::log::raw(
            LogLevel::Notice,
            &render(version, config.port, std::process::id()),
        );
    } else {
        crate::notice!("Running mode=standalone, port={}.", config.port);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn logo_lines_carry_version_mode_port_and_pid() {
        let text = super::render("7.0.15", 6380, 4242);
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 19);
        assert!(lines[2].ends_with("           Redis 7.0.15 (00000000/0) 64 bit"));
        assert!(lines[4].ends_with("    )     Running in standalone mode"));
        assert!(lines[5].ends_with("_.-'|     Port: 6380"));
        assert!(lines[6].ends_with("    |     PID: 4242"));
        assert_eq!(
            lines[0].len(),
            69,
            "padding kept as in redis-server's output"
        );
    }
}
