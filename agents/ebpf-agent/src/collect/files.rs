//! JSON Lines file sets: `DIR/<set>.jsonl`, rotated by size into
//! `DIR/<set>-<UTC time>-<first seq>.jsonl` (gzip'ed on request), the oldest deleted past
//! `max_files`.
//!
//! Every line gets `"seq"` (per file set: 1, 2, 3, ... across rotations and restarts) and
//! `"tool"` in front of the fields the tool wrote, so a reader proves nothing is missing by
//! seeing every number once. `seq` counts lines that reached the file: when writing fails (a
//! full disk, a read-only file system) the lines are dropped and counted instead, and once
//! writing works again a `lost` line per tool says how many and why. A restart continues
//! after the last line of the file (a partial last line, from a crash mid-write, is cut off)
//! or, when that file is empty, after the number kept in `DIR/.<set>.seq`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use agent_core::json;

/// Write out once this much is waiting, whatever the flush interval.
const BUF_LIMIT: usize = 64 * 1024;

/// What one tool has done, as the status file and the metrics show it.
#[derive(Debug, Clone, Default)]
pub struct ToolStat {
    pub name: String,
    /// Index of its file set.
    pub set: usize,
    /// An interval tool (its reports feed the metrics).
    pub interval: bool,
    pub state: State,
    /// Lines written, `lost` lines excepted.
    pub events: u64,
    pub lines: u64,
    pub bytes: u64,
    /// Events the kernel could not hand over (the tool's own `lost` lines).
    pub kernel_lost: u64,
    /// Lines the collector could not write.
    pub output_lost: u64,
    /// Of those, not yet reported in a `lost` line.
    pub pending_lost: u64,
    pub error: Option<String>,
}

impl ToolStat {
    /// One line the collector could not write.
    fn drop_line(&mut self) {
        self.output_lost += 1;
        self.pending_lost += 1;
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum State {
    #[default]
    Starting,
    Running,
    /// It did not start, or stopped on an error.
    Failed,
    /// It ended (its duration, a count, the collector stopping).
    Ended,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Failed => "failed",
            State::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    pub max_bytes: u64,
    pub max_files: u32,
}

/// A stretch of the write buffer from one tool.
struct Seg {
    tool: usize,
    end: usize,
    /// The collector's own `lost` lines: not the tool's lines, and not counted lost if they
    /// cannot be written (their counts are kept for the next try).
    notice: bool,
}

pub struct FileSet {
    pub name: String,
    /// Its index among the sets (what [`ToolStat::set`] holds).
    index: usize,
    dir: PathBuf,
    path: PathBuf,
    opts: Rotation,
    file: Option<File>,
    /// Bytes in the current file.
    pub size: u64,
    /// `seq` of the current file's first line.
    first_seq: Option<u64>,
    /// `seq` of the next line.
    pub next_seq: u64,
    buf: Vec<u8>,
    /// `seq` of the first line in `buf`.
    buf_seq: u64,
    segs: Vec<Seg>,
    pub rotations: u64,
    pub bytes: u64,
    /// Why writing fails at the moment (lines are dropped and counted meanwhile).
    pub failing: Option<String>,
    pub last_error: Option<String>,
    /// A partial line that a failed write left and that could not be cut off yet.
    truncate_to: Option<u64>,
    unsynced: bool,
    worker: mpsc::Sender<Job>,
    gzip: bool,
}

/// `seq` of a line the collector wrote.
pub fn seq_of(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Is this line, as the collector wrote it, a `lost` line? (`tool` comes before `type`.)
fn written_is_lost(line: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"\",\"type\":\"lost\"";
    let head = &line[..line.len().min(160)];
    head.windows(NEEDLE.len()).any(|w| w == NEEDLE)
}

/// `YYYYmmddTHHMMSSZ`, UTC, now.
fn stamp_now() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    let t = agent_core::time::rfc3339_utc(ns);
    // 2026-11-25T15:22:15.123456Z
    let mut s: String = t[..19].chars().filter(|c| *c != '-' && *c != ':').collect();
    s.push('Z');
    s
}

/// The file name of a rotated file of set `name` whose first line is `seq`.
pub fn rotated_name(name: &str, stamp: &str, seq: u64) -> String {
    format!("{name}-{stamp}-{seq:012}.jsonl")
}

/// The first `seq` of a rotated file of set `name`, from its file name (`.gz` or not).
pub fn rotated_seq(name: &str, file: &str) -> Option<u64> {
    let base = file.strip_suffix(".gz").unwrap_or(file);
    let base = base.strip_suffix(".jsonl")?;
    let (rest, seq) = base.rsplit_once('-')?;
    let (set, stamp) = rest.rsplit_once('-')?;
    let stamp_ok = stamp.len() == 16
        && stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && stamp.bytes().filter(|b| b.is_ascii_digit()).count() == 14;
    if set != name || !stamp_ok || seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seq.parse().ok()
}

/// The last complete line of the file's first `len` bytes, and where the complete lines end
/// (a partial line after them is what a crash mid-write leaves).
fn last_line(file: &mut File, len: u64) -> io::Result<(Option<Vec<u8>>, u64)> {
    let mut pos = len;
    let mut tail: Vec<u8> = Vec::new();
    let mut good: Option<u64> = None;
    while pos > 0 {
        let start = pos.saturating_sub(64 * 1024);
        let mut chunk = vec![0u8; (pos - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        pos = start;
        if good.is_none() {
            good = tail
                .iter()
                .rposition(|&b| b == b'\n')
                .map(|i| pos + i as u64 + 1);
        }
        if let Some(g) = good {
            let end = (g - pos) as usize;
            if let Some(j) = tail[..end - 1].iter().rposition(|&b| b == b'\n') {
                return Ok((Some(tail[j + 1..end].to_vec()), g));
            }
            if pos == 0 {
                return Ok((Some(tail[..end].to_vec()), g));
            }
        }
    }
    Ok((None, 0))
}

/// The last complete line of a gzip'ed file.
fn last_line_gz(path: &Path) -> Option<Vec<u8>> {
    let data = gz::read(path).ok()?;
    let end = data.iter().rposition(|&b| b == b'\n')?;
    let start = data[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    Some(data[start..=end].to_vec())
}

fn read_seq_state(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes `text` to `path` atomically: a temporary file beside it, then rename.
pub fn write_atomic(path: &Path, text: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let r = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(text)?;
        fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

impl FileSet {
    /// Opens (or creates) the set's current file and finds where `seq` goes on.
    pub fn open(
        index: usize,
        dir: &Path,
        name: &str,
        opts: Rotation,
        worker: mpsc::Sender<Job>,
        gzip: bool,
    ) -> io::Result<FileSet> {
        let path = dir.join(format!("{name}.jsonl"));
        let mut s = FileSet {
            name: name.to_string(),
            index,
            dir: dir.to_path_buf(),
            path,
            opts,
            file: None,
            size: 0,
            first_seq: None,
            next_seq: 1,
            buf: Vec::with_capacity(BUF_LIMIT + 4096),
            buf_seq: 1,
            segs: Vec::new(),
            rotations: 0,
            bytes: 0,
            failing: None,
            last_error: None,
            truncate_to: None,
            unsynced: false,
            worker,
            gzip,
        };
        s.open_current()?;
        if let Some(seq) = read_seq_state(&s.state_path()) {
            s.next_seq = s.next_seq.max(seq);
        }
        if s.size == 0 {
            if let Some(seq) = s.newest_rotated_last_seq() {
                s.next_seq = s.next_seq.max(seq + 1);
            }
        }
        s.buf_seq = s.next_seq;
        s.tidy_rotated();
        Ok(s)
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join(format!(".{}.seq", self.name))
    }

    /// Opens the current file, cuts a partial last line off, and reads its first and last
    /// `seq`.
    fn open_current(&mut self) -> io::Result<()> {
        let mut f = open_append(&self.path)?;
        let len = f.metadata()?.len();
        let (last, good) = last_line(&mut f, len)?;
        if good < len {
            log::warn!(
                "{}: cut off a partial last line ({} bytes) left by an earlier run",
                self.path.display(),
                len - good
            );
            f.set_len(good)?;
        }
        self.size = good;
        self.first_seq = None;
        if good > 0 {
            let mut head = [0u8; 32];
            f.seek(SeekFrom::Start(0))?;
            let n = f.read(&mut head)?;
            self.first_seq = seq_of(&head[..n]);
        }
        if let Some(seq) = last.as_deref().and_then(seq_of) {
            self.next_seq = self.next_seq.max(seq + 1);
        }
        self.file = Some(f);
        Ok(())
    }

    /// Rotated files of this set: (first seq, file name), oldest first.
    fn rotated(&self) -> Vec<(u64, String)> {
        let mut v: Vec<(u64, String)> = fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let n = e.file_name().into_string().ok()?;
                        rotated_seq(&self.name, &n).map(|s| (s, n))
                    })
                    .collect()
            })
            .unwrap_or_default();
        agent_core::sort::sort_by(&mut v, |a, b| a.cmp(b));
        v
    }

    fn newest_rotated_last_seq(&self) -> Option<u64> {
        let (_, name) = self.rotated().pop()?;
        let path = self.dir.join(&name);
        let line = if name.ends_with(".gz") {
            last_line_gz(&path)?
        } else {
            let mut f = File::open(&path).ok()?;
            let len = f.metadata().ok()?.len();
            last_line(&mut f, len).ok()?.0?
        };
        seq_of(&line)
    }

    /// At start: leftovers of a compression that did not finish are removed or redone.
    fn tidy_rotated(&self) {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return;
        };
        for e in rd.filter_map(|e| e.ok()) {
            let Ok(n) = e.file_name().into_string() else {
                continue;
            };
            if let Some(base) = n.strip_suffix(".gz.tmp") {
                if rotated_seq(&self.name, base).is_some() {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        if self.gzip {
            let all = self.rotated();
            for (seq, n) in &all {
                let plain = !n.ends_with(".gz");
                let has_gz = all.iter().any(|(s, m)| s == seq && m.ends_with(".gz"));
                if plain && has_gz {
                    let _ = fs::remove_file(self.dir.join(n));
                } else if plain {
                    let _ = self.worker.send(Job::Compress(self.dir.join(n)));
                }
            }
        }
    }

    /// Appends the lines of `chunk` (complete lines, from tool `tool` named `tool_name`).
    pub fn append(&mut self, tool: usize, tool_name: &str, chunk: &[u8], stats: &mut [ToolStat]) {
        self.append_lines(tool, tool_name, chunk, false, stats);
    }

    fn append_lines(
        &mut self,
        tool: usize,
        tool_name: &str,
        chunk: &[u8],
        notice: bool,
        stats: &mut [ToolStat],
    ) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1);
            let (line, tail) = rest.split_at(end);
            rest = tail;
            if self.failing.is_some() {
                if !notice {
                    stats[tool].drop_line();
                }
                continue;
            }
            // `{"seq":N,"tool":"NAME",` and the line without its `{`.
            let body = line.strip_prefix(b"{").unwrap_or(line);
            let need = 32 + tool_name.len() + body.len();
            let pending = self.size + self.buf.len() as u64;
            if self.opts.max_bytes > 0 && pending > 0 && pending + need as u64 > self.opts.max_bytes
            {
                self.flush(stats);
                if self.failing.is_none() {
                    self.rotate();
                }
                if self.failing.is_some() {
                    if !notice {
                        stats[tool].drop_line();
                    }
                    continue;
                }
            }
            if self.size == 0 && self.buf.is_empty() {
                self.first_seq = Some(self.next_seq);
            }
            let b = &mut self.buf;
            json::put(b, b"{\"seq\":");
            json::push_u64(b, self.next_seq);
            json::put(b, b",\"tool\":\"");
            json::put(b, tool_name.as_bytes());
            if body.first() == Some(&b'}') {
                b.push(b'"');
            } else {
                json::put(b, b"\",");
            }
            json::put(b, body);
            if body.last() != Some(&b'\n') {
                b.push(b'\n');
            }
            self.next_seq += 1;
            match self.segs.last_mut() {
                Some(s) if s.tool == tool && s.notice == notice => s.end = self.buf.len(),
                _ => self.segs.push(Seg {
                    tool,
                    end: self.buf.len(),
                    notice,
                }),
            }
            if self.buf.len() >= BUF_LIMIT {
                self.flush(stats);
            }
        }
    }

    /// Counts what a stretch of written (or dropped) lines was.
    fn account(seg: &Seg, lines: &[u8], written: bool, stats: &mut [ToolStat]) {
        let st = &mut stats[seg.tool];
        for line in lines.split_inclusive(|&b| b == b'\n') {
            if written {
                st.lines += 1;
                st.bytes += line.len() as u64;
                if !written_is_lost(line) {
                    st.events += 1;
                }
            } else if !seg.notice {
                st.drop_line();
            }
        }
        if written && seg.notice {
            st.pending_lost = 0;
        }
    }

    /// Writes out what is buffered. On failure the lines that did not make it whole are
    /// dropped (and counted), a partial line is cut off the file, and the set fails until
    /// [`FileSet::retry`] succeeds.
    pub fn flush(&mut self, stats: &mut [ToolStat]) {
        if self.buf.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        let segs = std::mem::take(&mut self.segs);
        let (written, err) = self.write_buf(&buf);
        let mut start = 0;
        for seg in &segs {
            let end = seg.end.min(written);
            if end > start {
                Self::account(seg, &buf[start..end], true, stats);
            }
            let from = start.max(written);
            if seg.end > from {
                Self::account(seg, &buf[from..seg.end], false, stats);
            }
            start = seg.end;
        }
        if let Some(e) = err {
            let lines = buf[..written].iter().filter(|&&b| b == b'\n').count() as u64;
            self.next_seq = self.buf_seq + lines;
            if self.size == 0 {
                self.first_seq = None;
            }
            self.fail(format!("writing {}: {e}", self.path.display()));
        }
        self.buf_seq = self.next_seq;
        self.buf = buf;
        self.buf.clear();
    }

    /// Writes `buf` to the file: (bytes of complete lines written, the error if it failed).
    fn write_buf(&mut self, buf: &[u8]) -> (usize, Option<io::Error>) {
        let Some(f) = self.file.as_mut() else {
            return (0, Some(io::Error::other("the file is not open")));
        };
        if let Some(len) = self.truncate_to {
            if let Err(e) = f.set_len(len) {
                return (0, Some(e));
            }
            self.truncate_to = None;
            self.size = len;
        }
        let mut off = 0;
        let err = loop {
            if off == buf.len() {
                break None;
            }
            match f.write(&buf[off..]) {
                Ok(0) => break Some(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        let good = if err.is_none() {
            off
        } else {
            buf[..off]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        if good < off {
            // A partial line: cut it off now, or before the next write.
            let len = self.size + good as u64;
            if f.set_len(len).is_err() {
                self.truncate_to = Some(len);
            }
        }
        self.size += good as u64;
        self.bytes += good as u64;
        if good > 0 {
            self.unsynced = true;
        }
        (good, err)
    }

    fn fail(&mut self, why: String) {
        if self.failing.is_none() {
            log::warn!("{why}: dropping lines (counted) until writing works again");
        }
        self.last_error = Some(why.clone());
        self.failing = Some(why);
    }

    /// While failing: tries again (reopening the file if it is not open), writing first a
    /// `lost` line for every tool whose lines were dropped. True when writing works again.
    pub fn retry(&mut self, stats: &mut [ToolStat]) -> bool {
        let Some(why) = self.failing.take() else {
            return true;
        };
        if self.file.is_none() {
            if let Err(e) = self.open_current() {
                self.failing = Some(format!("opening {}: {e}", self.path.display()));
                return false;
            }
        }
        self.report_lost(&why, stats);
        self.flush(stats);
        if self.failing.is_none() {
            log::warn!("{}: writing works again", self.path.display());
            true
        } else {
            false
        }
    }

    /// A `lost` line for each tool of this set with dropped lines not yet reported.
    fn report_lost(&mut self, why: &str, stats: &mut [ToolStat]) {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        for i in 0..stats.len() {
            let (n, total) = (stats[i].pending_lost, stats[i].output_lost);
            if stats[i].set != self.index || n == 0 {
                continue;
            }
            let mut line = Vec::with_capacity(200);
            let mut o = json::Obj::new(&mut line);
            o.str("type", "lost")
                .str("ts", &agent_core::time::rfc3339_utc(wall))
                .u64("lost", n)
                .u64("lost_total", total)
                .str("reason", &format!("output: {why}"))
                .end();
            let name = stats[i].name.clone();
            self.append_lines(i, &name, &line, true, stats);
        }
    }

    /// Closes the current file under its rotated name and starts a new one. The old file's
    /// fsync (and its compression) is the worker thread's: an fsync can take long on an SD
    /// card, and the loop must go on reading the ring buffers meanwhile.
    fn rotate(&mut self) {
        let Some(f) = self.file.take() else {
            return;
        };
        self.unsynced = false;
        let first = self.first_seq.unwrap_or(self.next_seq);
        let rotated = self.dir.join(rotated_name(&self.name, &stamp_now(), first));
        if let Err(e) = fs::rename(&self.path, &rotated) {
            self.file = Some(f);
            self.fail(format!("rotating {}: {e}", self.path.display()));
            return;
        }
        let _ = self.worker.send(Job::Sync(f));
        self.rotations += 1;
        self.size = 0;
        self.first_seq = None;
        match open_append(&self.path) {
            Ok(f) => self.file = Some(f),
            Err(e) => self.fail(format!("creating {}: {e}", self.path.display())),
        }
        self.save_seq();
        let _ = self.worker.send(Job::SyncDir(self.dir.clone()));
        self.prune();
        if self.gzip {
            let _ = self.worker.send(Job::Compress(rotated));
        }
    }

    /// Deletes the oldest rotated files past `max_files`.
    fn prune(&self) {
        let all = self.rotated();
        let mut seqs: Vec<u64> = all.iter().map(|(s, _)| *s).collect();
        seqs.dedup();
        let keep = self.opts.max_files as usize;
        if seqs.len() <= keep {
            return;
        }
        let oldest_kept = seqs[seqs.len() - keep..].first().copied();
        for (seq, n) in &all {
            if oldest_kept.is_none_or(|k| *seq < k) {
                if let Err(e) = fs::remove_file(self.dir.join(n)) {
                    log::warn!("cannot delete the old file {n}: {e}");
                }
            }
        }
    }

    /// Keeps `seq` for the next run (for when the current file is empty then).
    fn save_seq(&self) {
        let _ = write_atomic(
            &self.state_path(),
            format!("{}\n", self.next_seq).as_bytes(),
        );
    }

    /// fsync, if anything was written since the last one: by the worker thread, or here and
    /// now (at exit).
    pub fn sync(&mut self, now: bool) {
        if !self.unsynced {
            return;
        }
        if let Some(f) = &self.file {
            if now {
                if let Err(e) = f.sync_data() {
                    self.last_error = Some(format!("fsync {}: {e}", self.path.display()));
                }
            } else if let Ok(dup) = f.try_clone() {
                let _ = self.worker.send(Job::Sync(dup));
            }
        }
        self.unsynced = false;
    }

    /// SIGHUP: writes out what is buffered, closes the file and opens it by name again (a
    /// log rotation may have moved it away).
    pub fn reopen(&mut self, stats: &mut [ToolStat]) {
        self.flush(stats);
        self.sync(false);
        self.file = None;
        match self.open_current() {
            Ok(()) => {}
            Err(e) => self.fail(format!("reopening {}: {e}", self.path.display())),
        }
        self.buf_seq = self.next_seq;
    }

    /// At exit: everything written and synced, `seq` kept.
    pub fn close(&mut self, stats: &mut [ToolStat]) {
        self.flush(stats);
        self.sync(true);
        self.save_seq();
        self.file = None;
    }

    /// `seq` of the last line that reached the file.
    pub fn written_seq(&self) -> u64 {
        self.buf_seq - 1
    }

    /// The current file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// gzip through the zlib the binary links already (libelf's).
pub mod gz {
    use std::ffi::CString;
    use std::io;
    use std::os::raw::{c_char, c_int, c_uint, c_void};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    extern "C" {
        fn gzopen(path: *const c_char, mode: *const c_char) -> *mut c_void;
        fn gzread(f: *mut c_void, buf: *mut c_void, len: c_uint) -> c_int;
        fn gzwrite(f: *mut c_void, buf: *const c_void, len: c_uint) -> c_int;
        fn gzclose(f: *mut c_void) -> c_int;
    }

    fn open(path: &Path, mode: &str) -> io::Result<*mut c_void> {
        let p = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
        let m = CString::new(mode).map_err(io::Error::other)?;
        // SAFETY: two valid C strings; zlib returns NULL or a handle we close below.
        let f = unsafe { gzopen(p.as_ptr(), m.as_ptr()) };
        if f.is_null() {
            Err(io::Error::last_os_error())
        } else {
            Ok(f)
        }
    }

    /// The whole uncompressed content of a gzip file.
    pub fn read(path: &Path) -> io::Result<Vec<u8>> {
        let f = open(path, "rb")?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let r = loop {
            // SAFETY: a live handle and a buffer of buf.len() bytes.
            let n = unsafe { gzread(f, buf.as_mut_ptr() as *mut c_void, buf.len() as c_uint) };
            if n < 0 {
                break Err(io::Error::other("corrupt gzip data"));
            }
            if n == 0 {
                break Ok(());
            }
            out.extend_from_slice(&buf[..n as usize]);
        };
        // SAFETY: closed once.
        unsafe { gzclose(f) };
        r.map(|_| out)
    }

    /// Compresses `src` into `src.gz` (through `src.gz.tmp`), then deletes `src`.
    pub fn compress(src: &Path) -> io::Result<()> {
        let mut gz = src.as_os_str().to_owned();
        gz.push(".gz");
        let gz = PathBuf::from(gz);
        let mut tmp = gz.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let r = (|| {
            let data = std::fs::read(src)?;
            let f = open(&tmp, "wb6")?;
            let mut ok = true;
            for chunk in data.chunks(1 << 20) {
                // SAFETY: a live handle and a chunk of chunk.len() bytes.
                let n =
                    unsafe { gzwrite(f, chunk.as_ptr() as *const c_void, chunk.len() as c_uint) };
                if n as usize != chunk.len() {
                    ok = false;
                    break;
                }
            }
            // SAFETY: closed once; its result says whether the last block was written.
            let closed = unsafe { gzclose(f) };
            if !ok || closed != 0 {
                return Err(io::Error::other("gzip write failed (disk full?)"));
            }
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &gz)?;
            std::fs::remove_file(src)
        })();
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r
    }
}

/// What the worker thread does for the file sets, off the event loop.
pub enum Job {
    /// fsync a file (a rotated one, or a duplicate of the current one's descriptor).
    Sync(File),
    /// fsync a directory (after a rename in it).
    SyncDir(PathBuf),
    /// gzip a rotated file (after the jobs above: those are quick, this is not).
    Compress(PathBuf),
}

/// Starts the worker thread of the file sets: fsyncs first, compressions when nothing else
/// waits.
pub fn worker() -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::spawn(move || {
        let mut compress: std::collections::VecDeque<PathBuf> = Default::default();
        loop {
            let job = match rx.try_recv() {
                Ok(j) => j,
                Err(_) => match compress.pop_front() {
                    Some(p) => {
                        if p.exists() {
                            if let Err(e) = gz::compress(&p) {
                                log::warn!("cannot gzip {}: {e}", p.display());
                            }
                        }
                        continue;
                    }
                    None => match rx.recv() {
                        Ok(j) => j,
                        Err(_) => return,
                    },
                },
            };
            match job {
                Job::Sync(f) => {
                    let _ = f.sync_data();
                }
                Job::SyncDir(d) => {
                    if let Ok(d) = File::open(d) {
                        let _ = d.sync_all();
                    }
                }
                Job::Compress(p) => {
                    if !compress.contains(&p) {
                        compress.push_back(p);
                    }
                }
            }
        }
    });
    tx
}
