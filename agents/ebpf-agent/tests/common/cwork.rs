//! The C workload of the stack and function tools' host tests (cwork.c beside this file),
//! built with the system's cc in the variants the tests need.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// How a variant is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// PIE, -fno-omit-frame-pointer.
    PieFp,
    /// PIE, -fomit-frame-pointer.
    PieNoFp,
    /// Not PIE, -fno-omit-frame-pointer.
    NoPieFp,
    /// Not PIE, -fomit-frame-pointer.
    NoPieNoFp,
    /// PIE with frame pointers; hot_marker_fn in libcworkhot.so.
    Library,
}

impl Variant {
    pub const ALL: [Variant; 5] = [
        Variant::PieFp,
        Variant::PieNoFp,
        Variant::NoPieFp,
        Variant::NoPieNoFp,
        Variant::Library,
    ];

    /// The executable's file name (and so its comm).
    pub fn name(self) -> &'static str {
        match self {
            Variant::PieFp => "cw-pie-fp",
            Variant::PieNoFp => "cw-pie-nofp",
            Variant::NoPieFp => "cw-nopie-fp",
            Variant::NoPieNoFp => "cw-nopie-nofp",
            Variant::Library => "cw-lib",
        }
    }

    pub fn frame_pointers(self) -> bool {
        !matches!(self, Variant::PieNoFp | Variant::NoPieNoFp)
    }
}

fn src(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/common")
        .join(file)
}

fn cc(args: &[&str]) {
    let out = Command::new("cc").args(args).output().expect("run cc");
    assert!(
        out.status.success(),
        "cc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory with every variant built (once per test process).
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = super::process_dir().join("cwork");
        std::fs::create_dir_all(&d).unwrap();
        let c = src("cwork.c");
        let c = c.to_str().unwrap();
        let lib = d.join("libcworkhot.so");
        cc(&[
            "-O2",
            "-g",
            "-fno-omit-frame-pointer",
            "-fPIC",
            "-shared",
            "-o",
            lib.to_str().unwrap(),
            src("libhot.c").to_str().unwrap(),
        ]);
        for v in Variant::ALL {
            let out = d.join(v.name());
            let out = out.to_str().unwrap();
            let fp = if v.frame_pointers() {
                "-fno-omit-frame-pointer"
            } else {
                "-fomit-frame-pointer"
            };
            let mut args = vec!["-O2", "-g", fp, "-o", out, c];
            match v {
                Variant::PieFp | Variant::PieNoFp => args.extend(["-fPIE", "-pie"]),
                Variant::NoPieFp | Variant::NoPieNoFp => args.extend(["-fno-PIE", "-no-pie"]),
                Variant::Library => {
                    args.extend(["-fPIE", "-pie", "-DHOT_IN_LIBRARY", "-L"]);
                    args.push(d.to_str().unwrap());
                    args.extend(["-lcworkhot", "-Wl,-rpath"]);
                    args.push(d.to_str().unwrap());
                }
            }
            cc(&args);
        }
        d
    })
}

/// The path of a variant's executable.
pub fn exe(v: Variant) -> PathBuf {
    dir().join(v.name())
}

/// A workload process, waiting for [`Work::go`].
pub struct Work {
    pub child: Child,
}

impl Work {
    /// Starts `cwork ARGS` of variant `v`; it waits for go().
    pub fn spawn(v: Variant, args: &[&str]) -> Work {
        let child = Command::new(exe(v))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn cwork");
        Work { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets it run.
    pub fn go(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"g").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for its "done" and its clean exit.
    pub fn finish(mut self) {
        let mut line = String::new();
        BufReader::new(self.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "done\n", "the workload failed");
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
