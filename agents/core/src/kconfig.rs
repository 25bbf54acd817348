//! The running kernel's build configuration: /proc/config.gz (CONFIG_IKCONFIG_PROC), else
//! /boot/config-<release>, or a file the user names.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A parsed kernel .config.
#[derive(Debug, Clone, Default)]
pub struct KernelConfig {
    /// Where it was read from.
    pub source: String,
    values: HashMap<String, String>,
}

/// What a symbol is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Yes,
    Module,
    Other(&'a str),
    /// `# CONFIG_X is not set`, or absent (its dependencies are not met).
    Unset,
}

impl KernelConfig {
    pub fn parse(source: &str, text: &str) -> KernelConfig {
        let mut values = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("CONFIG_") {
                if let Some((k, v)) = rest.split_once('=') {
                    values.insert(k.to_string(), v.to_string());
                }
            }
        }
        KernelConfig {
            source: source.to_string(),
            values,
        }
    }

    /// `name` with or without the CONFIG_ prefix.
    pub fn get(&self, name: &str) -> Value<'_> {
        let key = name.strip_prefix("CONFIG_").unwrap_or(name);
        match self.values.get(key).map(String::as_str) {
            Some("y") => Value::Yes,
            Some("m") => Value::Module,
            Some("n") | None => Value::Unset,
            Some(v) => Value::Other(v),
        }
    }

    /// Built in or as a module.
    pub fn enabled(&self, name: &str) -> bool {
        matches!(self.get(name), Value::Yes | Value::Module)
    }

    /// Reads a config file, gzip-compressed or not.
    pub fn read(path: &Path) -> Result<KernelConfig> {
        let bytes = read_maybe_gz(path)?;
        Ok(KernelConfig::parse(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        ))
    }

    /// The running kernel's config, if it can be found.
    pub fn running() -> Option<KernelConfig> {
        let release = nix::sys::utsname::uname()
            .ok()?
            .release()
            .to_string_lossy()
            .into_owned();
        [
            PathBuf::from("/proc/config.gz"),
            PathBuf::from(format!("/boot/config-{release}")),
        ]
        .iter()
        .find_map(|p| KernelConfig::read(p).ok())
    }
}

// zlib is linked anyway (libbpf needs it): its gzip reader costs nothing extra.
extern "C" {
    fn gzopen(path: *const c_char, mode: *const c_char) -> *mut c_void;
    fn gzread(file: *mut c_void, buf: *mut c_void, len: u32) -> c_int;
    fn gzclose(file: *mut c_void) -> c_int;
}

/// The largest kernel config read, inflated (a distribution kernel's is about 300 KiB).
const MAX_BYTES: u64 = 16 << 20;

/// Reads a file, inflating it if it is gzip (zlib reads plain files through unchanged), at
/// most MAX_BYTES of it.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let cpath = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::new("path with a NUL byte"))?;
    // Fail with the OS's reason (missing, permission) before zlib hides it.
    std::fs::File::open(path).map_err(|e| {
        let err = Error::new(format!("{}: {e}", path.display()));
        if e.kind() == std::io::ErrorKind::NotFound {
            err.code(crate::error::EXIT_USAGE)
        } else {
            err
        }
    })?;
    // SAFETY: NUL-terminated path and mode; zlib returns a handle or NULL.
    let f = unsafe { gzopen(cpath.as_ptr(), c"rb".as_ptr()) };
    if f.is_null() {
        return Err(Error::new(format!("{}: cannot open", path.display())));
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: `f` is an open handle and `buf` has room for buf.len() bytes.
        let n = unsafe { gzread(f, buf.as_mut_ptr() as *mut c_void, buf.len() as u32) };
        if n < 0 {
            // SAFETY: closing the handle once, on this path only.
            unsafe { gzclose(f) };
            return Err(Error::new(format!(
                "{}: not a valid gzip or text file",
                path.display()
            )));
        }
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
        if out.len() as u64 > MAX_BYTES {
            // SAFETY: closing the handle once, on this path only.
            unsafe { gzclose(f) };
            return Err(Error::usage(format!(
                "{}: more than {} (uncompressed), the most a kernel config may be",
                path.display(),
                crate::input::size_text(MAX_BYTES)
            )));
        }
    }
    // SAFETY: closing the handle once.
    unsafe { gzclose(f) };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_and_unset() {
        let c = KernelConfig::parse(
            "t",
            "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=\"x\"\nCONFIG_E=n\n",
        );
        assert_eq!(c.get("A"), Value::Yes);
        assert_eq!(c.get("CONFIG_B"), Value::Module);
        assert_eq!(c.get("C"), Value::Unset);
        assert_eq!(c.get("D"), Value::Other("\"x\""));
        assert_eq!(c.get("E"), Value::Unset);
        assert_eq!(c.get("MISSING"), Value::Unset);
        assert!(c.enabled("B") && !c.enabled("C"));
    }

    #[test]
    fn reads_gzip_and_plain_files() {
        let dir = std::env::temp_dir().join(format!("kconfig-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("config");
        std::fs::write(&plain, "CONFIG_BPF=y\n# CONFIG_KPROBES is not set\n").unwrap();
        let st = std::process::Command::new("gzip")
            .args(["-k", "-f"])
            .arg(&plain)
            .status()
            .unwrap();
        assert!(st.success());
        let c = KernelConfig::read(&plain).unwrap();
        assert!(c.enabled("BPF") && !c.enabled("KPROBES"));
        {
            let gz = KernelConfig::read(&dir.join("config.gz")).unwrap();
            assert!(gz.enabled("BPF") && !gz.enabled("KPROBES"));
        }
        assert!(KernelConfig::read(&dir.join("nope")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn endless_input_and_gzip_bombs_stop_at_the_limit() {
        let e = read_maybe_gz(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("more than 16 MiB"), "{e}");
        let dir = std::env::temp_dir().join(format!("kconfig-bomb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("config");
        std::fs::write(&plain, vec![b'#'; (MAX_BYTES + 1) as usize]).unwrap();
        let st = std::process::Command::new("gzip")
            .arg("-f")
            .arg(&plain)
            .status()
            .unwrap();
        assert!(st.success());
        let gz = dir.join("config.gz");
        // A few KiB on disk that inflate past the limit.
        assert!(std::fs::metadata(&gz).unwrap().len() < 1 << 20);
        let e = read_maybe_gz(&gz).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.to_string().contains("(uncompressed)"), "{e}");
        assert_eq!(e.exit_code, crate::error::EXIT_USAGE);
    }
}
