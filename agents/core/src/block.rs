//! Block I/O tools (biolatency, biosnoop, biotop): the agent's half of `bpf/block.h`.
//!
//! - The hook groups every block tool declares ([`REQUESTS`], [`ORIGINS`]): the requests'
//!   issue and completion, and where each request is made (the process that asked for it).
//!   BTF-typed tracepoints where the kernel takes them, raw tracepoints otherwise; no kprobes.
//! - What the BPF side cannot know by CO-RE, read from the kernel's BTF and put in `.rodata`
//!   before load ([`configure`]): the position of the request or bio among the tracepoints'
//!   arguments, which moved between kernels (and not at one version: see `bpf/core_fixes.h`).
//! - Disk names from /proc/partitions ([`Disks`]), and the request flags decoded with the
//!   kernel's own values of `enum req_op` and `enum req_flag_bits` ([`ReqFlags`]), which moved
//!   between kernels too.

use std::time::{Duration, Instant};

use crate::btf::{Btf, KernelBtf};
use crate::error::{Error, Result};
use crate::hooks::{Attach, Group, Hook, Plan};

/// The issue and completion of every request: BTF-typed tracepoints, or raw ones. The
/// alternatives are labelled `tp_btf` and `raw_tp`, as in [`ORIGINS`]: forcing one
/// ([`HookChoice`]) forces it in both.
pub const REQUESTS: Group = Group::first_of(
    "requests",
    &[
        Group::all(
            "tp_btf",
            &[
                Attach::new("btf_rq_complete", Hook::TpBtf("block", "block_rq_complete")),
                Attach::new("btf_rq_issue", Hook::TpBtf("block", "block_rq_issue")),
            ],
        )
        .text("tp_btf block_rq_complete and block_rq_issue"),
        Group::all(
            "raw_tp",
            &[
                Attach::new("raw_rq_complete", Hook::RawTp("block", "block_rq_complete")),
                Attach::new("raw_rq_issue", Hook::RawTp("block", "block_rq_issue")),
            ],
        )
        .text("raw_tp block_rq_complete and block_rq_issue"),
    ],
);

/// Where each request is made, in the process that submitted its I/O: `block_io_start`
/// (6.5 on, by request), else `block_getrq` (by bio); each BTF-typed or raw. Label
/// [`ORIGINS_LABEL`].
pub const ORIGINS: Group = Group::first_of(
    ORIGINS_LABEL,
    &[
        Group::first_of(
            "io_start",
            &[
                Group::all(
                    "tp_btf",
                    &[Attach::new(
                        "btf_io_start",
                        Hook::TpBtf("block", "block_io_start"),
                    )],
                )
                .text("issuing process from tp_btf block_io_start"),
                Group::all(
                    "raw_tp",
                    &[Attach::new(
                        "raw_io_start",
                        Hook::RawTp("block", "block_io_start"),
                    )],
                )
                .text("issuing process from raw_tp block_io_start"),
            ],
        ),
        Group::first_of(
            "getrq",
            &[
                Group::all(
                    "tp_btf",
                    &[Attach::new(
                        "btf_getrq",
                        Hook::TpBtf("block", "block_getrq"),
                    )],
                )
                .text("issuing process from tp_btf block_getrq"),
                Group::all(
                    "raw_tp",
                    &[Attach::new(
                        "raw_getrq",
                        Hook::RawTp("block", "block_getrq"),
                    )],
                )
                .text("issuing process from raw_tp block_getrq"),
            ],
        ),
    ],
);

/// The label of [`ORIGINS`], to turn it off (`Choices::set`) where a tool does not need it.
pub const ORIGINS_LABEL: &str = "origins";

/// `--hook`: the kind of tracepoint program, the best this kernel takes or one forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookChoice {
    Auto,
    TpBtf,
    RawTp,
}

impl HookChoice {
    pub fn parse(s: &str) -> std::result::Result<HookChoice, String> {
        Ok(match s {
            "auto" => HookChoice::Auto,
            "tp_btf" => HookChoice::TpBtf,
            "raw_tp" => HookChoice::RawTp,
            _ => return Err(format!("bad hook {s:?}: auto, tp_btf or raw_tp")),
        })
    }
}

impl crate::hooks::ForcedHook for HookChoice {
    fn label(&self) -> Option<&'static str> {
        match self {
            HookChoice::Auto => None,
            HookChoice::TpBtf => Some("tp_btf"),
            HookChoice::RawTp => Some("raw_tp"),
        }
    }

    fn hint(&self) -> Option<String> {
        (*self == HookChoice::TpBtf).then(|| {
            "use --hook raw_tp (or auto): BTF-typed tracepoints need the kernel's own BTF \
             (CONFIG_DEBUG_INFO_BTF)"
                .to_string()
        })
    }
}

crate::pod! {
    /// `struct block_config` (bpf/block.h), `.rodata` variable `block_config`.
    pub struct Config = "block_config" {
        rq_arg: u8,
        origin_arg: u8,
        origin_by_bio: u8,
        origins: u8,
    }
}

/// What the kernel's BTF says about the block layer, read once per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFacts {
    /// Position of `struct request *` among `block_rq_issue`'s arguments.
    pub rq_issue_arg: u8,
    /// Position of `struct bio *` among `block_getrq`'s arguments.
    pub getrq_bio_arg: u8,
    pub flags: ReqFlags,
}

impl KernelFacts {
    /// From this kernel's BTF; where it says nothing (no BTF of its own, a trimmed BTF file),
    /// from the kernel release: the rules below held for every kernel we know of.
    pub fn read() -> KernelFacts {
        // The kernel's own BTF is the truth; a shipped file for a kernel without it, else.
        let btf = crate::probe::kernel_btf().or_else(|| KernelBtf::load().map(std::rc::Rc::new));
        KernelFacts::from(btf.as_ref().map(|b| b.view()).as_ref(), &release())
    }

    pub fn from(btf: Option<&Btf>, release: &str) -> KernelFacts {
        let arg = |tp: &str, s: &str| btf.and_then(|b| b.tracepoint_arg(tp, s)).map(|a| a as u8);
        let v = version(release);
        KernelFacts {
            // (q, rq) until 5.11, and until 5.10.137 on 5.10 (a54895fa, backported).
            rq_issue_arg: arg("block_rq_issue", "request").unwrap_or((v < (5, 10, 137)) as u8),
            // (q, bio, rw) until 5.11; not backported (Debian's 5.10.223 has it).
            getrq_bio_arg: arg("block_getrq", "bio").unwrap_or((v < (5, 11, 0)) as u8),
            flags: btf.map_or_else(ReqFlags::fallback, ReqFlags::from_btf),
        }
    }

    /// The `.rodata` for the plan: which origin hook was picked, and where its argument is.
    pub fn config(&self, plan: &Plan) -> Config {
        let by_bio = plan.picked("getrq");
        let by_rq = plan.picked("io_start");
        Config {
            rq_arg: self.rq_issue_arg,
            origin_arg: if by_bio { self.getrq_bio_arg } else { 0 },
            origin_by_bio: by_bio as u8,
            origins: (by_bio || by_rq) as u8,
        }
    }
}

/// Before load: the block `.rodata` for `plan` and, when no origin hook is attached, the
/// origins map shrunk to one entry (it would be kernel memory for nothing). Returns what was
/// read of the kernel, for decoding the requests' flags.
pub fn configure(obj: &mut crate::bpf::Object, plan: &Plan) -> Result<KernelFacts> {
    let facts = KernelFacts::read();
    let config = facts.config(plan);
    obj.set_rodata("block_config", &config)?;
    if config.origins == 0 {
        obj.set_max_entries("origins", 1)?;
    }
    Ok(facts)
}

fn release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `5.10.223-1-amd64` → (5, 10, 223); what does not parse counts as 0.
fn version(release: &str) -> (u32, u32, u32) {
    let mut it = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// The kernel's dev_t of a disk: MKDEV(major, minor) with 20 minor bits (not the user-space
/// encodings), what the BPF side reads from `struct gendisk`.
pub fn kernel_dev(major: u32, minor: u32) -> u32 {
    (major << 20) | (minor & 0xf_ffff)
}

pub fn dev_major(dev: u32) -> u32 {
    dev >> 20
}

pub fn dev_minor(dev: u32) -> u32 {
    dev & 0xf_ffff
}

/// A disk or partition of /proc/partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub name: String,
    pub major: u32,
    pub minor: u32,
}

impl Disk {
    pub fn dev(&self) -> u32 {
        kernel_dev(self.major, self.minor)
    }
}

/// The disks and partitions of /proc/partitions and of sysfs (`/sys/class/block/*/dev`:
/// disks whose driver keeps them out of /proc/partitions, such as null_blk, are there), by
/// dev_t and by name; read again (at most once a second) when a dev_t is not there, for disks
/// that came after the start (a loop device, a USB stick).
#[derive(Debug)]
pub struct Disks {
    list: Vec<Disk>,
    read_at: Option<Instant>,
}

const PARTITIONS: &str = "/proc/partitions";
const SYSFS_BLOCK: &str = "/sys/class/block";

/// `/sys/class/block/<name>/<file>` (a `/` in a name is a `!` there).
fn sysfs_block(name: &str, file: &str) -> std::path::PathBuf {
    std::path::Path::new(SYSFS_BLOCK)
        .join(name.replace('/', "!"))
        .join(file)
}

impl Disks {
    pub fn load() -> Disks {
        let mut d = Disks::parse("");
        d.reload();
        d
    }

    /// From the text of /proc/partitions (`major minor #blocks name`, after a header).
    pub fn parse(text: &str) -> Disks {
        let list = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let major = f.next()?.parse().ok()?;
                let minor = f.next()?.parse().ok()?;
                f.next()?;
                let name = f.next()?.to_string();
                Some(Disk { name, major, minor })
            })
            .collect();
        Disks {
            list,
            read_at: None,
        }
    }

    fn reload(&mut self) {
        let mut list = std::fs::read_to_string(PARTITIONS)
            .map(|text| Disks::parse(&text).list)
            .unwrap_or_default();
        if let Ok(dir) = std::fs::read_dir(SYSFS_BLOCK) {
            let mut more: Vec<Disk> = dir
                .filter_map(|e| {
                    let name = e.ok()?.file_name().to_string_lossy().replace('!', "/");
                    // Not there already, and not empty (a loop device with no file).
                    let size = std::fs::read_to_string(sysfs_block(&name, "size")).ok()?;
                    if list.iter().any(|d| d.name == name) || size.trim() == "0" {
                        return None;
                    }
                    let dev = std::fs::read_to_string(sysfs_block(&name, "dev")).ok()?;
                    let (major, minor) = dev.trim().split_once(':')?;
                    Some(Disk {
                        name,
                        major: major.parse().ok()?,
                        minor: minor.parse().ok()?,
                    })
                })
                .collect();
            crate::sort::sort_by(&mut more, |a, b| a.name.cmp(&b.name));
            list.append(&mut more);
        }
        self.list = list;
        self.read_at = Some(Instant::now());
    }

    pub fn all(&self) -> &[Disk] {
        &self.list
    }

    /// The name of the disk with kernel dev_t `dev`.
    pub fn name(&mut self, dev: u32) -> Option<&str> {
        if !self.list.iter().any(|d| d.dev() == dev)
            && self
                .read_at
                .is_some_and(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.reload();
        }
        self.list
            .iter()
            .find(|d| d.dev() == dev)
            .map(|d| d.name.as_str())
    }

    /// The disk a user named (`sda`, `/dev/sda`) for `-d`: a usage error naming the disks
    /// there are when it is not one, and the disk to give when it is a partition (requests
    /// are made for whole disks).
    pub fn disk(&self, name: &str) -> Result<Disk> {
        let plain = name.strip_prefix("/dev/").unwrap_or(name);
        let sysfs = sysfs_block;
        let is_partition = |n: &str| sysfs(n, "partition").exists();
        match self.list.iter().find(|d| d.name == plain) {
            Some(d) if is_partition(&d.name) => {
                let parent = std::fs::canonicalize(sysfs(&d.name, ""))
                    .ok()
                    .and_then(|p| Some(p.parent()?.file_name()?.to_string_lossy().into_owned()));
                Err(Error::usage(match parent {
                    Some(p) => format!(
                        "-d {name}: {plain} is a partition; block requests are traced per disk: \
                         give -d {p}"
                    ),
                    None => format!(
                        "-d {name}: {plain} is a partition; block requests are traced per disk: \
                         give its disk"
                    ),
                }))
            }
            Some(d) => Ok(d.clone()),
            None => {
                let disks: Vec<&str> = self
                    .list
                    .iter()
                    .filter(|d| !is_partition(&d.name))
                    .map(|d| d.name.as_str())
                    .collect();
                Err(Error::usage(if disks.is_empty() {
                    format!("-d {name}: no such disk, and neither {PARTITIONS} nor {SYSFS_BLOCK} lists one")
                } else {
                    format!(
                        "-d {name}: no such disk; the disks here are {}",
                        disks.join(", ")
                    )
                }))
            }
        }
    }
}

/// Operations of `enum req_op` (`REQ_OP_<name>`): libbpf-tools' name (biolatency -F) and the
/// letters of blktrace's rwbs. Their values differ between kernels.
const OPS: &[(&str, &str, &str)] = &[
    ("READ", "Read", "R"),
    ("WRITE", "Write", "W"),
    ("FLUSH", "Flush", "F"),
    ("DISCARD", "Discard", "D"),
    ("SECURE_ERASE", "SecureErase", "DE"),
    ("ZONE_RESET", "ZoneReset", "N"),
    ("WRITE_SAME", "WriteSame", "W"),
    ("ZONE_RESET_ALL", "ZoneResetAll", "N"),
    ("WRITE_ZEROES", "WriteZeroes", "N"),
    ("ZONE_OPEN", "ZoneOpen", "N"),
    ("ZONE_CLOSE", "ZoneClose", "N"),
    ("ZONE_FINISH", "ZoneFinish", "N"),
    ("ZONE_APPEND", "ZoneAppend", "N"),
    ("SCSI_IN", "SCSIIn", "N"),
    ("SCSI_OUT", "SCSIOut", "N"),
    ("DRV_IN", "DrvIn", "N"),
    ("DRV_OUT", "DrvOut", "N"),
];

/// Flags of `enum req_flag_bits` (`__REQ_<name>`) that biolatency -F names, in libbpf-tools'
/// order: its name there and in JSON.
const FLAGS: &[(&str, &str, &str)] = &[
    ("NOWAIT", "NoWait", "nowait"),
    ("BACKGROUND", "Background", "background"),
    ("RAHEAD", "ReadAhead", "readahead"),
    ("PREFLUSH", "PreFlush", "preflush"),
    ("FUA", "FUA", "fua"),
    ("INTEGRITY", "Integrity", "integrity"),
    ("IDLE", "Idle", "idle"),
    ("NOMERGE", "NoMerge", "nomerge"),
    ("PRIO", "Priority", "priority"),
    ("META", "Metadata", "metadata"),
    ("SYNC", "Sync", "sync"),
];

/// Indexes into [`FLAGS`] of the ones rwbs shows.
const F_RAHEAD: usize = 2;
const F_PREFLUSH: usize = 3;
const F_FUA: usize = 4;
const F_META: usize = 9;
const F_SYNC: usize = 10;

/// Decodes a request's `cmd_flags` with this kernel's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReqFlags {
    /// (value, index into OPS).
    ops: Vec<(u32, u8)>,
    /// Bit of each of [`FLAGS`] (None: not in this kernel).
    bits: [Option<u8>; FLAGS.len()],
}

impl ReqFlags {
    /// The values 5.10 through 6.18 agree on (the others are left out).
    pub fn fallback() -> ReqFlags {
        let ops = [(0, 0), (1, 1), (2, 2), (3, 3), (5, 4)].to_vec();
        let mut bits = [None; FLAGS.len()];
        // __REQ_SYNC = 11 ... __REQ_NOWAIT = 21 in every kernel from 5.10 to 6.18.
        for (i, (name, _, _)) in FLAGS.iter().enumerate() {
            let b = match *name {
                "SYNC" => 11,
                "META" => 12,
                "PRIO" => 13,
                "NOMERGE" => 14,
                "IDLE" => 15,
                "INTEGRITY" => 16,
                "FUA" => 17,
                "PREFLUSH" => 18,
                "RAHEAD" => 19,
                "BACKGROUND" => 20,
                _ => 21,
            };
            bits[i] = Some(b);
        }
        ReqFlags { ops, bits }
    }

    /// From the kernel's `enum req_op` (`req_opf` before 5.19) and `enum req_flag_bits`.
    pub fn from_btf(btf: &Btf) -> ReqFlags {
        let Some(ops) = btf
            .enum_values("req_op")
            .or_else(|| btf.enum_values("req_opf"))
        else {
            return ReqFlags::fallback();
        };
        let ops = ops
            .iter()
            .filter_map(|(n, v)| {
                let i = OPS
                    .iter()
                    .position(|o| Some(o.0) == n.strip_prefix("REQ_OP_"))?;
                Some((u32::try_from(*v).ok()?, i as u8))
            })
            .collect();
        let mut bits = [None; FLAGS.len()];
        if let Some(values) = btf.enum_values("req_flag_bits") {
            for (n, v) in &values {
                if let Some(i) = FLAGS
                    .iter()
                    .position(|f| Some(f.0) == n.strip_prefix("__REQ_"))
                {
                    bits[i] = u8::try_from(*v).ok().filter(|b| *b < 32);
                }
            }
        } else {
            bits = ReqFlags::fallback().bits;
        }
        ReqFlags { ops, bits }
    }

    fn op(&self, cmd_flags: u32) -> Option<usize> {
        let v = cmd_flags & 0xff;
        self.ops
            .iter()
            .find(|(o, _)| *o == v)
            .map(|(_, i)| *i as usize)
    }

    fn has(&self, cmd_flags: u32, flag: usize) -> bool {
        self.bits[flag].is_some_and(|b| cmd_flags & (1 << b) != 0)
    }

    /// Is it a write (REQ_OP_WRITE)?
    pub fn is_write(&self, cmd_flags: u32) -> bool {
        cmd_flags & 0xff == 1
    }

    /// blktrace's rwbs letters, as libbpf-tools' biosnoop prints them: F (preflush), the
    /// operation (R, W, F, D, DE, N), F (FUA), A (readahead), S (sync), M (metadata).
    pub fn rwbs(&self, cmd_flags: u32) -> String {
        let mut s = String::with_capacity(8);
        if self.has(cmd_flags, F_PREFLUSH) {
            s.push('F');
        }
        s.push_str(self.op(cmd_flags).map_or("N", |i| OPS[i].2));
        for (f, c) in [(F_FUA, 'F'), (F_RAHEAD, 'A'), (F_SYNC, 'S'), (F_META, 'M')] {
            if self.has(cmd_flags, f) {
                s.push(c);
            }
        }
        s
    }

    /// The operation in lower case (`read`, `write`, `write_zeroes`), `unknown` if this kernel
    /// has no name for it.
    pub fn op_name(&self, cmd_flags: u32) -> String {
        self.op(cmd_flags)
            .map_or("unknown".to_string(), |i| OPS[i].0.to_ascii_lowercase())
    }

    /// The flags of [`FLAGS`] that are set, by their JSON names, in libbpf-tools' order.
    pub fn flag_names(&self, cmd_flags: u32) -> Vec<&'static str> {
        (0..FLAGS.len())
            .filter(|&i| self.has(cmd_flags, i))
            .map(|i| FLAGS[i].2)
            .collect()
    }

    /// What libbpf-tools' biolatency -F prints after `flags = `: `Sync-Write`,
    /// `ReadAhead-Read`, `Unknown`.
    pub fn label(&self, cmd_flags: u32) -> String {
        let mut s = String::new();
        for i in (0..FLAGS.len()).filter(|&i| self.has(cmd_flags, i)) {
            s.push_str(FLAGS[i].1);
            s.push('-');
        }
        s.push_str(self.op(cmd_flags).map_or("Unknown", |i| OPS[i].1));
        s
    }

    /// `cmd_flags` reduced to what [`ReqFlags::label`] shows, so requests that print the same
    /// are counted together.
    pub fn shown(&self, cmd_flags: u32) -> u32 {
        let mut keep = 0xffu32;
        for b in self.bits.iter().flatten() {
            keep |= 1 << b;
        }
        cmd_flags & keep
    }
}

/// What the block tools' self-tests (`ebpf-agent verify`, `overhead`) make: O_DIRECT writes
/// and reads of a file in the temporary directory when that is on a disk, else O_DIRECT reads
/// of a disk (which change nothing), so they work on a board whose only disk is its SD card
/// (or a test board's null_blk). Skipped with the reason when neither can be done.
pub mod selftest {
    use std::io;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::{Disk, Disks};

    /// Writes and reads a self-test makes (each of [`BLOCK`] bytes).
    pub const COUNT: u64 = 16;
    pub const BLOCK: usize = 4096;

    /// Where the self-test's I/O goes.
    #[derive(Debug, Clone)]
    pub struct Target {
        /// The disk its requests are for.
        pub disk: Disk,
        /// Some: files in this directory (on `disk`) are written and read; None: `disk`
        /// itself is read.
        pub dir: Option<PathBuf>,
    }

    /// What one self-test did.
    #[derive(Debug, Clone)]
    pub struct Done {
        pub pid: u32,
        /// The name of the thread that made the I/O (its comm).
        pub comm: String,
        pub disk: Disk,
        pub writes: u64,
        pub reads: u64,
        /// The sectors read, when the disk itself was read.
        pub sectors: Vec<u64>,
    }

    /// The self-tests' target, worked out once: the temporary directory if O_DIRECT works
    /// there and its file system is on a request-based disk (blk-mq, `/sys/block/<disk>/mq`:
    /// bio-based ones such as zram, brd or device-mapper never issue requests); else the
    /// first request-based disk of /proc/partitions that opens with O_DIRECT.
    pub fn target() -> Option<Target> {
        static FOUND: OnceLock<Option<Target>> = OnceLock::new();
        FOUND
            .get_or_init(|| {
                let disks = Disks::load();
                let rq: Vec<&Disk> = disks
                    .all()
                    .iter()
                    .filter(|d| sysfs(d).join("mq").is_dir() && size(d) >= 1 << 20)
                    .collect();
                let tmp = std::env::temp_dir();
                if let Some(d) = under(&tmp).and_then(|n| rq.iter().find(|d| d.name == n)) {
                    if direct_file_works(&tmp) {
                        return Some(Target {
                            disk: (*d).clone(),
                            dir: Some(tmp),
                        });
                    }
                }
                rq.into_iter()
                    .find(|d| open_disk(d).is_ok())
                    .map(|d| Target {
                        disk: d.clone(),
                        dir: None,
                    })
            })
            .clone()
    }

    /// The disk of [`target`], for `-d`.
    pub fn disk() -> Option<Disk> {
        target().map(|t| t.disk)
    }

    fn sysfs(d: &Disk) -> PathBuf {
        Path::new("/sys/block").join(d.name.replace('/', "!"))
    }

    /// Bytes of a disk (`/sys/block/<disk>/size` counts 512-byte sectors).
    fn size(d: &Disk) -> u64 {
        std::fs::read_to_string(sysfs(d).join("size"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map_or(0, |n| n.saturating_mul(512))
    }

    /// The disk (by name) of the file system holding `dir`.
    fn under(dir: &Path) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata(dir).ok()?.dev();
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let link = std::fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")).ok()?;
        // A partition's directory sits in its disk's.
        let disk = if link.join("partition").exists() {
            link.parent()?.to_path_buf()
        } else {
            link
        };
        Some(disk.file_name()?.to_string_lossy().replace('!', "/"))
    }

    fn direct(path: &Path, create: bool) -> io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(create)
            .create(create)
            .truncate(create)
            .custom_flags(libc::O_DIRECT)
            .open(path)
    }

    fn direct_file_works(dir: &Path) -> bool {
        let p = dir.join(format!("ebpf-verify-odirect-{}", std::process::id()));
        let ok = direct(&p, true)
            .and_then(|f| f.write_all_at(&Aligned([0; BLOCK]).0, 0))
            .is_ok();
        let _ = std::fs::remove_file(&p);
        ok
    }

    fn open_disk(d: &Disk) -> io::Result<std::fs::File> {
        direct(Path::new(&format!("/dev/{}", d.name)), false)
    }

    fn nothing() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "no block I/O to make here: the temporary directory is on no request-based disk \
             (or takes no O_DIRECT), and no disk in /proc/partitions opens with O_DIRECT",
        )
    }

    /// A name for the thread that makes the I/O (its comm), unique to the marker: 14 bytes.
    pub fn comm(marker: &str) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in marker.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        format!("biov{:010x}", h & 0xff_ffff_ffff)
    }

    #[repr(C, align(4096))]
    struct Aligned([u8; BLOCK]);

    /// Where the disk's reads start, in blocks: in its first GiB, picked by the marker, so
    /// another run's sectors are not these.
    fn first_block(marker: &str, d: &Disk) -> u64 {
        let blocks = (size(d) / BLOCK as u64).min(1 << 18);
        let h = comm(marker)
            .bytes()
            .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
        h % blocks.saturating_sub(COUNT).max(1)
    }

    /// The self-test's I/O, one request at a time from a thread named [`comm`]`(marker)`:
    /// [`COUNT`] writes then as many reads of a file named after the marker (removed after),
    /// or [`COUNT`] reads of the disk.
    pub fn run(marker: &str) -> io::Result<Done> {
        let t = target().ok_or_else(nothing)?;
        let (file, path, first) = match &t.dir {
            Some(dir) => {
                let p = dir.join(marker);
                (direct(&p, true)?, Some(p), 0)
            }
            None => (open_disk(&t.disk)?, None, first_block(marker, &t.disk)),
        };
        let write = path.is_some();
        let worker = std::thread::Builder::new().name(comm(marker)).spawn(
            move || -> io::Result<Vec<u64>> {
                let mut buf = Box::new(Aligned([0x5a; BLOCK]));
                if write {
                    for i in 0..COUNT {
                        file.write_all_at(&buf.0, i * BLOCK as u64)?;
                    }
                }
                let mut sectors = Vec::new();
                for i in 0..COUNT {
                    let off = (first + i) * BLOCK as u64;
                    file.read_exact_at(&mut buf.0, off)?;
                    sectors.push(off / 512);
                }
                Ok(sectors)
            },
        )?;
        let result = worker
            .join()
            .map_err(|_| io::Error::other("the I/O thread panicked"));
        if let Some(p) = &path {
            let _ = std::fs::remove_file(p);
        }
        let sectors = result??;
        Ok(Done {
            pid: std::process::id(),
            comm: comm(marker),
            disk: t.disk,
            writes: if write { COUNT } else { 0 },
            reads: COUNT,
            sectors: if write { Vec::new() } else { sectors },
        })
    }

    /// The self-test's I/O as fast as it goes until `until` (reads of its disk, or of a file
    /// written once): how many requests.
    pub fn storm(marker: &str, until: Instant) -> io::Result<u64> {
        let t = target().ok_or_else(nothing)?;
        let buf = Box::new(Aligned([0x5a; BLOCK]));
        let (file, path) = match &t.dir {
            Some(dir) => {
                let p = dir.join(marker);
                let f = direct(&p, true)?;
                for i in 0..64 {
                    f.write_all_at(&buf.0, i * BLOCK as u64)?;
                }
                (f, Some(p))
            }
            None => (open_disk(&t.disk)?, None),
        };
        let mut buf = buf;
        let mut n = 0u64;
        let result = (|| {
            while Instant::now() < until {
                for i in 0..64 {
                    file.read_exact_at(&mut buf.0, i * BLOCK as u64)?;
                }
                n += 64;
            }
            Ok(n)
        })();
        if let Some(p) = path {
            let _ = std::fs::remove_file(p);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::Choices;

    const PARTS: &str = "major minor  #blocks  name\n\n 254        0  268435456 vda\n \
                         254        1  268434432 vda1\n   7        0      65536 loop0\n \
                         259        0  1000 nvme0n1\n";

    #[test]
    fn partitions_and_dev_t() {
        let mut d = Disks::parse(PARTS);
        assert_eq!(d.all().len(), 4);
        assert_eq!(kernel_dev(254, 1), (254 << 20) | 1);
        assert_eq!(
            (dev_major(kernel_dev(259, 7)), dev_minor(kernel_dev(259, 7))),
            (259, 7)
        );
        assert_eq!(d.name(kernel_dev(7, 0)), Some("loop0"));
        assert_eq!(d.name(kernel_dev(259, 0)), Some("nvme0n1"));
        assert_eq!(d.name(kernel_dev(8, 0)), None);
        assert_eq!(d.disk("/dev/loop0").unwrap().dev(), kernel_dev(7, 0));
        let e = d.disk("sdz").unwrap_err();
        assert_eq!(e.exit_code, 2);
        assert!(e.message().contains("no such disk") && e.message().contains("loop0"));
    }

    #[test]
    fn kernel_facts_without_btf_follow_the_release() {
        let f = |r: &str| KernelFacts::from(None, r);
        assert_eq!(
            (
                f("5.10.0-32-amd64").rq_issue_arg,
                f("5.10.0-32-amd64").getrq_bio_arg
            ),
            (1, 1)
        );
        assert_eq!(
            (f("5.10.223").rq_issue_arg, f("5.10.223").getrq_bio_arg),
            (0, 1)
        );
        assert_eq!(
            (f("6.1.0-57-arm64").rq_issue_arg, f("6.1.0").getrq_bio_arg),
            (0, 0)
        );
        assert_eq!(version("6.12.117+deb12-arm64"), (6, 12, 117));
    }

    /// A kernel with exactly these hooks.
    struct Has(Vec<crate::hooks::HookBuf>);
    impl crate::hooks::Kernel for Has {
        fn missing(&self, hook: &crate::hooks::HookBuf) -> Option<String> {
            (!self.0.contains(hook)).then(|| format!("no {}", hook.describe()))
        }
    }

    fn kernel(io_start: bool, tp_btf: bool) -> Has {
        let mut tps = vec!["block_rq_complete", "block_rq_issue", "block_getrq"];
        if io_start {
            tps.push("block_io_start");
        }
        let mut h = Vec::new();
        for tp in tps {
            h.push(Hook::RawTp("block".into(), tp.into()));
            if tp_btf {
                h.push(Hook::TpBtf("block".into(), tp.into()));
            }
        }
        Has(h)
    }

    fn progs(k: &Has, force: HookChoice) -> Vec<String> {
        let mut c = Choices::default();
        c.force_hook(&force);
        let plan = crate::hooks::resolve(&[REQUESTS, ORIGINS], &c, k).unwrap();
        plan.programs().map(str::to_string).collect()
    }

    #[test]
    fn hooks_most_portable_and_forced() {
        let new = kernel(true, true);
        assert_eq!(
            progs(&new, HookChoice::Auto),
            ["btf_rq_complete", "btf_rq_issue", "btf_io_start"]
        );
        assert_eq!(
            progs(&new, HookChoice::RawTp),
            ["raw_rq_complete", "raw_rq_issue", "raw_io_start"]
        );
        // Before 6.5: no block_io_start.
        let old = kernel(false, true);
        assert_eq!(
            progs(&old, HookChoice::Auto),
            ["btf_rq_complete", "btf_rq_issue", "btf_getrq"]
        );
        assert_eq!(
            progs(&old, HookChoice::RawTp),
            ["raw_rq_complete", "raw_rq_issue", "raw_getrq"]
        );
        // No tp_btf: raw tracepoints, and forcing tp_btf says why it cannot.
        let raw = kernel(true, false);
        assert_eq!(
            progs(&raw, HookChoice::Auto),
            ["raw_rq_complete", "raw_rq_issue", "raw_io_start"]
        );
        let mut c = Choices::default();
        c.force_hook(&HookChoice::TpBtf);
        let why = crate::hooks::resolve(&[REQUESTS, ORIGINS], &c, &raw).unwrap_err();
        assert!(why.contains("tp_btf was asked for"), "{why}");
        // Origins off (biolatency without -Q): requests only.
        let mut c = Choices::default();
        c.set(ORIGINS_LABEL, false);
        let plan = crate::hooks::resolve(&[REQUESTS, ORIGINS], &c, &new).unwrap();
        assert_eq!(plan.programs().count(), 2);
        assert!(HookChoice::parse("kprobe").is_err());
    }

    #[test]
    fn plan_decides_the_origin_config() {
        let facts = KernelFacts {
            rq_issue_arg: 0,
            getrq_bio_arg: 1,
            flags: ReqFlags::fallback(),
        };
        let mut plan = Plan::default();
        assert_eq!(facts.config(&plan), Config::default());
        plan.picked.push("getrq");
        assert_eq!(
            facts.config(&plan),
            Config {
                rq_arg: 0,
                origin_arg: 1,
                origin_by_bio: 1,
                origins: 1
            }
        );
        let mut plan = Plan::default();
        plan.picked.push("io_start");
        assert_eq!(facts.config(&plan).origin_arg, 0);
        assert_eq!(facts.config(&plan).origins, 1);
    }

    #[test]
    fn flags_decode_like_libbpf_tools() {
        let f = ReqFlags::fallback();
        let sync = 1 << 11;
        let write_sync_idle = 1 | sync | (1 << 15);
        assert_eq!(f.rwbs(write_sync_idle), "WS");
        assert_eq!(f.label(write_sync_idle), "Idle-Sync-Write");
        assert_eq!(f.flag_names(write_sync_idle), ["idle", "sync"]);
        assert_eq!(f.op_name(write_sync_idle), "write");
        assert!(f.is_write(write_sync_idle));
        // A flush with preflush: F + F; a readahead read.
        assert_eq!(f.rwbs(2 | (1 << 18)), "FF");
        assert_eq!(f.rwbs(1 << 19), "RA");
        assert_eq!(f.label(0), "Read");
        assert_eq!(f.label(0x7f), "Unknown");
        assert_eq!(f.rwbs(0x7f), "N");
        // Bits no label shows are left out of the key.
        assert_eq!(f.shown(write_sync_idle | (1 << 8)), write_sync_idle);
    }

    /// The running kernel's BTF agrees with the values 5.10 to 6.18 share.
    #[test]
    fn flags_from_this_kernel() {
        let Some(k) = KernelBtf::load() else {
            eprintln!("skipped: no kernel BTF here");
            return;
        };
        let from = ReqFlags::from_btf(&k.view());
        let fb = ReqFlags::fallback();
        assert_eq!(from.bits, fb.bits);
        for v in [0u32, 1, 2, 3, 5] {
            assert_eq!(from.op_name(v), fb.op_name(v));
        }
        let facts = KernelFacts::from(Some(&k.view()), "");
        if crate::probe::tracepoint_exists("block", "block_rq_issue") {
            // Every kernel since 5.11: (rq) and (bio).
            assert_eq!((facts.rq_issue_arg, facts.getrq_bio_arg), (0, 0));
        }
    }
}
