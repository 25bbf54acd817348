//! Block devices and block I/O of known shape, for the block tools' host tests.

use std::path::PathBuf;
use std::process::Command;

use super::{marker, Phases};

/// Bytes of each request the workload makes.
pub const BS: u64 = 4096;

/// A loop device on a sparse file of its own, detached and removed when dropped.
pub struct Loop {
    /// `/dev/loopN`
    pub path: String,
    /// `loopN`
    pub name: String,
    pub major: u32,
    pub minor: u32,
    file: PathBuf,
}

impl Loop {
    pub fn new(tag: &str) -> Loop {
        let file = super::process_dir().join(format!("{}.img", marker(tag)));
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(32 << 20))
            .unwrap();
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&file)
            .output()
            .expect("losetup (util-linux)");
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let name = path.trim_start_matches("/dev/").to_string();
        let (major, minor) = dev_numbers(&name);
        Loop {
            path,
            name,
            major,
            minor,
            file,
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.path]).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

/// `major:minor` of a disk, from sysfs.
pub fn dev_numbers(disk: &str) -> (u32, u32) {
    let s = std::fs::read_to_string(format!("/sys/block/{disk}/dev")).unwrap();
    let (a, b) = s.trim().split_once(':').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// The disk under the temporary directory (this machine's root virtio disk) and a file there
/// of `blocks` blocks, written and synced, so O_DIRECT writes overwrite it in place.
pub fn file_on_root_disk(tag: &str, blocks: u64) -> (String, PathBuf) {
    use std::os::unix::fs::MetadataExt;
    let path = std::env::temp_dir().join(format!("{}.data", marker(tag)));
    std::fs::write(&path, vec![0x5a; (blocks * BS) as usize]).unwrap();
    std::fs::File::open(&path).unwrap().sync_all().unwrap();
    let dev = std::fs::metadata(&path).unwrap().dev();
    let link = std::fs::canonicalize(format!(
        "/sys/dev/block/{}:{}",
        libc::major(dev),
        libc::minor(dev)
    ))
    .unwrap();
    let disk = if link.join("partition").exists() {
        link.parent().unwrap().to_path_buf()
    } else {
        link
    };
    (
        disk.file_name().unwrap().to_string_lossy().into_owned(),
        path,
    )
}

/// A process named `comm` that, at each `io` step, makes on every target (a device or file,
/// from block `first`) `n` O_DIRECT writes of [`BS`] bytes at consecutive blocks, an fsync
/// (of devices only: a file system's fsync may write metadata of its own from the process,
/// which would not be the workload's known shape), then `n` O_DIRECT reads of the same
/// blocks, one at a time. Set up (named, files open) before it returns, so tools can be
/// pointed at its pid.
pub fn workload(comm: &str, targets: &[(&str, u64)], n: u64) -> Phases {
    assert!(comm.len() <= 15, "a comm is at most 15 bytes: {comm}");
    let list: Vec<String> = targets
        .iter()
        .map(|(p, first)| format!("({p:?}, {first})"))
        .collect();
    let script = format!(
        r#"
import mmap, stat
COMM = {comm:?}
TARGETS = [{targets}]
N = {n}
BS = {BS}
fds = []
buf = mmap.mmap(-1, BS)
buf.write(b"\xa5" * BS)

def phase_setup():
    with open("/proc/self/comm", "w") as f:
        f.write(COMM)
    for path, first in TARGETS:
        fds.append((os.open(path, os.O_RDWR | os.O_DIRECT), first))

def phase_io():
    for fd, first in fds:
        for i in range(N):
            assert os.pwritev(fd, [buf], (first + i) * BS) == BS
        if stat.S_ISBLK(os.fstat(fd).st_mode):
            os.fsync(fd)
        for i in range(N):
            assert os.preadv(fd, [buf], (first + i) * BS) == BS
"#,
        targets = list.join(", ")
    );
    let mut p = Phases::spawn(&script);
    p.run("setup");
    p
}

/// A comm unique to this run: 15 bytes at most.
pub fn comm(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut s = format!("{tag}{:x}", (std::process::id() << 8) ^ nanos);
    s.truncate(15);
    s
}
