//! `ebpf-agent list [--json]`: every tool, and whether this kernel can run it (if not, why).

use std::io::Write;

use argh::FromArgs;

use agent_core::cli;
use agent_core::hooks::Running;
use agent_core::json::Obj;
use agent_core::Result;

use crate::tools;

#[derive(FromArgs)]
/// List the tools and whether this kernel can run them.
struct Args {
    /// print JSON (one object)
    #[argh(switch)]
    json: bool,
}

struct Status {
    name: &'static str,
    about: &'static str,
    missing: Vec<String>,
}

fn statuses() -> Vec<Status> {
    let kernel = Running::default();
    tools::ALL
        .iter()
        .map(|t| Status {
            name: t.name(),
            about: t.spec.about,
            missing: t.missing(&kernel),
        })
        .collect()
}

pub fn main(args: &[String]) -> Result<()> {
    let args: Args = cli::parse_command("list", args, &[])?;
    let all = statuses();
    if args.json {
        let mut buf = Vec::new();
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut o = Obj::new(&mut buf);
        o.str("version", env!("CARGO_PKG_VERSION"))
            .str("kernel", &release)
            .str("arch", std::env::consts::ARCH);
        o.objects("tools", &all, |one, s| {
            one.str("name", s.name)
                .str("about", s.about)
                .bool("runnable", s.missing.is_empty());
            one.bytes_array("missing", s.missing.iter().map(|m| m.as_bytes()));
        });
        o.end();
        std::io::stdout().write_all(&buf)?;
    } else {
        println!("{:<12} {:<8} DETAILS", "TOOL", "STATUS");
        for s in &all {
            if s.missing.is_empty() {
                println!("{:<12} {:<8} {}", s.name, "ok", s.about);
            } else {
                println!("{:<12} {:<8} {}", s.name, "missing", s.missing.join("; "));
            }
        }
    }
    Ok(())
}
