//! The kernel objects the BPF side matches by identity, kept up to date.
//!
//! For each entry the agent opens (`O_PATH`, which reads nothing and needs no permission on
//! the file itself) what exists of it: the watched file, the watched directory, and the
//! directory it hangs from (its anchor). Its own opens are seen by the BPF program, which tells
//! it the kernel pointers of what it opened (`learned`); the agent keeps the descriptors, so the
//! objects, and so the pointers, stay valid. Every report tick the list is resolved again: what
//! was created, replaced or moved since is opened and learned, what was deleted let go.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use agent_core::prelude::*;

use super::watch::{bloom_bit, Key, Kind, Watch};

/// Mirror bpf/filewatch.h.
pub const MAX_OBJECTS: usize = 256;
pub const MAX_PINS: usize = 64;
pub const LEARN_SLOTS: i32 = 1024;
const OBJ_FILE: u16 = 1;
const OBJ_DIR: u16 = 2;
const OBJ_ANCHOR: u16 = 4;

agent_core::pod! {
    /// `struct filewatch_object`.
    pub struct ObjectValue = "filewatch_object" {
        watch_id: u32, kind: u16, anchor: u16,
        index: u32, pad: u32,
    }

    /// `struct filewatch_learned`.
    pub struct Learned = "filewatch_learned" {
        inode: u64, dentry: u64, parent: u64, hash_len: u64, sb: u64, ino: u64,
        fd: u32, is_dir: u32,
    }

    /// `struct filewatch_pin`.
    pub struct Pin = "filewatch_pin" {
        dentry: u64, parent: u64, hash_len: u64,
        watch_id: u32, index: u32,
    }

    /// `struct filewatch_pins`.
    pub struct Pins = "filewatch_pins" {
        pin: [Pin; MAX_PINS],
    }

    /// `struct filewatch_bloom`.
    pub struct Bloom = "filewatch_bloom" {
        bits: [u64; 8],
    }
}

/// What an object is to the watch list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Roles {
    /// Watched as a file (entry index): by its inode.
    file: Option<u32>,
    /// Watched as a directory (entry index): by its dentry.
    dir: Option<u32>,
    /// The anchor of some entries: by its dentry.
    anchor: bool,
}

/// An object the agent holds open.
struct Held {
    fd: OwnedFd,
    /// Where it is now (shown as the head of identity matches below it).
    path: Vec<u8>,
    dev: u64,
    ino: u64,
    learned: Learned,
    roles: Roles,
    /// Its anchor id, when it is one.
    anchor: u16,
    /// Wanted by the last resolution (else kept while it exists: the watch follows it).
    wanted: bool,
}

/// The objects held, and what the kernel's maps hold of them.
#[derive(Default)]
pub struct Objects {
    /// Slots by the `index` events name (index - 1); None: free.
    held: Vec<Option<Held>>,
    /// What the kernel maps hold now (to update only what changed).
    objects_map: HashMap<u64, ObjectValue>,
    names_map: HashMap<(u64, u32, u16, u16), u32>,
    pins: Vec<Pin>,
    next_anchor: u16,
    anchors: HashMap<Vec<u8>, u16>,
}

fn stat_of(p: &[u8]) -> Option<std::fs::Metadata> {
    std::fs::metadata(Path::new(std::ffi::OsStr::from_bytes(p))).ok()
}

/// Opens `path` with O_PATH, the way the BPF side learns it: the descriptor and what it found.
fn open_and_learn(obj: &Object, path: &[u8]) -> Option<(OwnedFd, Learned, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let fd = nix::fcntl::open(
        Path::new(std::ffi::OsStr::from_bytes(path)),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    let raw = fd.as_raw_fd();
    if raw >= LEARN_SLOTS {
        log::warn!(
            "descriptor {raw} is past the {LEARN_SLOTS} the kernel side notes: {} is watched by \
             name only",
            String::from_utf8_lossy(path)
        );
        return None;
    }
    let l: Learned = obj.map_lookup("learned", &(raw as u32)).ok()??;
    let _ = obj.map_update("learned", &(raw as u32), &Learned::default());
    let m = std::fs::File::from(fd.try_clone().ok()?).metadata().ok()?;
    // What the program saw must be this very file (a stale slot of an earlier descriptor
    // would say another inode).
    if l.fd != raw as u32 || l.ino != m.ino() || l.dentry == 0 {
        log::debug!(
            "the kernel side did not see the open of {}: watched by name only",
            String::from_utf8_lossy(path)
        );
        return None;
    }
    Some((fd, l, m.dev(), m.ino()))
}

impl Objects {
    /// Resolves the watch list against the file system as it is, opens and learns what is new,
    /// lets go of what was deleted, and brings the kernel's maps (`objects`, `names`, `bloom`,
    /// `pins`, `claims`) up to date. `abs_keys`: the absolute-name keys of each entry.
    pub fn sync(&mut self, obj: &Object, list: &[Watch]) -> Result<bool> {
        let mut changed = false;
        // What is wanted now: (path, roles).
        let mut want: Vec<(Vec<u8>, Roles)> = Vec::new();
        let mut add = |path: Vec<u8>, f: &dyn Fn(&mut Roles)| {
            if let Some(w) = want.iter_mut().find(|(p, _)| *p == path) {
                f(&mut w.1);
            } else {
                let mut r = Roles::default();
                f(&mut r);
                want.push((path, r));
            }
        };
        let is_dir = |p: &[u8]| stat_of(p).is_some_and(|m| m.is_dir());
        for (i, w) in list.iter().enumerate() {
            let i = i as u32;
            match w.kind {
                Kind::Exact if stat_of(&w.bytes).is_some() => {
                    add(w.bytes.clone(), &|r| r.file = Some(i))
                }
                Kind::Dir if is_dir(&w.bytes) => add(w.bytes.clone(), &|r| r.dir = Some(i)),
                _ => {}
            }
            let a = w.anchor(&is_dir);
            add(a, &|r| r.anchor = true);
        }
        // Mark, and open what is not held yet.
        for h in self.held.iter_mut().flatten() {
            h.wanted = false;
        }
        for (path, roles) in &want {
            if roles.anchor {
                self.anchor_id(path);
            }
        }
        for (path, roles) in want {
            let Some(m) = stat_of(&path) else { continue };
            let anchor = if roles.anchor { self.anchors[&path] } else { 0 };
            use std::os::unix::fs::MetadataExt;
            let found = self
                .held
                .iter_mut()
                .flatten()
                .find(|h| h.dev == m.dev() && h.ino == m.ino());
            if let Some(h) = found {
                h.wanted = true;
                h.path = path;
                if h.roles != roles || h.anchor != anchor {
                    h.roles = roles;
                    h.anchor = anchor;
                    changed = true;
                }
                continue;
            }
            let Some((fd, learned, dev, ino)) = open_and_learn(obj, &path) else {
                continue;
            };
            changed = true;
            let slot = self.free_slot();
            self.held[slot] = Some(Held {
                fd,
                path,
                dev,
                ino,
                learned,
                roles,
                anchor,
                wanted: true,
            });
        }
        // Unwanted objects stay while they exist (the watch follows a moved file), at their
        // path now; deleted ones go.
        for slot in self.held.iter_mut() {
            let Some(h) = slot else { continue };
            if h.wanted {
                continue;
            }
            let gone = std::fs::File::from(match h.fd.try_clone() {
                Ok(f) => f,
                Err(_) => continue,
            })
            .metadata()
            .map_or(true, |m| {
                use std::os::unix::fs::MetadataExt;
                m.nlink() == 0
            });
            if gone {
                *slot = None;
                changed = true;
            } else if let Ok(p) = std::fs::read_link(format!("/proc/self/fd/{}", h.fd.as_raw_fd()))
            {
                use std::os::unix::ffi::OsStringExt;
                h.path = p.into_os_string().into_vec();
            }
        }
        if changed {
            self.push(obj, list)?;
        }
        Ok(changed)
    }

    fn anchor_id(&mut self, path: &[u8]) -> u16 {
        if let Some(&id) = self.anchors.get(path) {
            return id;
        }
        self.next_anchor = self.next_anchor.wrapping_add(1).max(1);
        self.anchors.insert(path.to_vec(), self.next_anchor);
        self.next_anchor
    }

    fn free_slot(&mut self) -> usize {
        if let Some(i) = self.held.iter().position(Option::is_none) {
            return i;
        }
        if self.held.len() < MAX_OBJECTS {
            self.held.push(None);
            return self.held.len() - 1;
        }
        // Full: an object kept only because it still exists makes room.
        let i = self
            .held
            .iter()
            .position(|h| h.as_ref().is_some_and(|h| !h.wanted))
            .unwrap_or(0);
        self.held[i] = None;
        i
    }

    /// Writes what is held into the kernel's maps: new entries first, stale ones deleted after,
    /// so no call is missed in between.
    fn push(&mut self, obj: &Object, list: &[Watch]) -> Result<()> {
        let mut objects: HashMap<u64, ObjectValue> = HashMap::new();
        let mut names: HashMap<(u64, u32, u16, u16), u32> = HashMap::new();
        let mut pins: Vec<Pin> = Vec::new();
        for (slot, h) in self.held.iter().enumerate() {
            let Some(h) = h else { continue };
            let index = slot as u32 + 1;
            if let Some(w) = h.roles.file {
                objects.insert(
                    h.learned.inode,
                    ObjectValue {
                        watch_id: w,
                        kind: OBJ_FILE,
                        index,
                        ..Default::default()
                    },
                );
            }
            if h.roles.dir.is_some() || h.roles.anchor {
                objects.insert(
                    h.learned.dentry,
                    ObjectValue {
                        watch_id: h.roles.dir.unwrap_or(u32::MAX),
                        kind: if h.roles.dir.is_some() { OBJ_DIR } else { 0 }
                            | if h.roles.anchor { OBJ_ANCHOR } else { 0 },
                        anchor: h.anchor,
                        index,
                        pad: 0,
                    },
                );
            }
            if let Some(w) = h.roles.file.or(h.roles.dir) {
                if pins.len() < MAX_PINS {
                    pins.push(Pin {
                        dentry: h.learned.dentry,
                        parent: h.learned.parent,
                        hash_len: h.learned.hash_len,
                        watch_id: w,
                        index,
                    });
                }
            }
            if h.roles.anchor {
                for (i, w) in list.iter().enumerate() {
                    if w.anchor(&|p| stat_of(p).is_some_and(|m| m.is_dir())) != h.path {
                        continue;
                    }
                    for k in w.anchor_keys(&h.path, h.anchor) {
                        names.insert((k.hash, k.len, k.kind, k.anchor), i as u32);
                    }
                }
            }
        }
        for (i, w) in list.iter().enumerate() {
            for k in w.keys() {
                names.insert((k.hash, k.len, k.kind, k.anchor), i as u32);
            }
        }
        let mut bloom = Bloom::default();
        for &ptr in objects.keys() {
            let b = bloom_bit(ptr);
            bloom.bits[b / 64] |= 1 << (b % 64);
        }
        // The union while both are in the maps: nothing new is filtered out.
        let mut both = bloom;
        for &ptr in self.objects_map.keys() {
            let b = bloom_bit(ptr);
            both.bits[b / 64] |= 1 << (b % 64);
        }
        obj.map_update("bloom", &0u32, &both)?;
        for (k, v) in &objects {
            if self.objects_map.get(k) != Some(v) {
                obj.map_update("objects", k, v)?;
            }
        }
        let key = |&(hash, len, kind, anchor): &(u64, u32, u16, u16)| Key {
            hash,
            len,
            kind,
            anchor,
        };
        for (k, v) in &names {
            if self.names_map.get(k) != Some(v) {
                obj.map_update("names", &key(k), v)?;
            }
        }
        let mut all = Pins {
            pin: [Pin::default(); MAX_PINS],
        };
        all.pin[..pins.len()].copy_from_slice(&pins);
        obj.map_update("pins", &0u32, &all)?;
        for p in &pins {
            // Pinned afresh: armed again.
            obj.map_delete("claims", &p.dentry)?;
        }
        for k in self.objects_map.keys() {
            if !objects.contains_key(k) {
                obj.map_delete("objects", k)?;
            }
        }
        for k in self.names_map.keys() {
            if !names.contains_key(k) {
                obj.map_delete("names", &key(k))?;
            }
        }
        obj.map_update("bloom", &0u32, &bloom)?;
        self.objects_map = objects;
        self.names_map = names;
        self.pins = pins;
        Ok(())
    }

    /// The path of object `index` (what an identity match's path is relative to).
    pub fn path_of(&self, index: u32) -> Option<&[u8]> {
        self.held
            .get((index as usize).checked_sub(1)?)?
            .as_ref()
            .map(|h| h.path.as_slice())
    }

    /// How many objects are held (and as what), for the `-v` line.
    pub fn describe(&self) -> String {
        let held: Vec<&Held> = self.held.iter().flatten().collect();
        let files = held.iter().filter(|h| h.roles.file.is_some()).count();
        let dirs = held.iter().filter(|h| h.roles.dir.is_some()).count();
        let anchors = held.iter().filter(|h| h.roles.anchor).count();
        format!(
            "by identity: {files} files, {dirs} directories, {anchors} directories they hang from"
        )
    }
}
