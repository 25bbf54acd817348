//! Files a user names (an object to run, the collector's config, a kernel config): read whole,
//! but bounded, so that /dev/zero, a FIFO that never ends or a file far too large ends in an
//! error that names the limit instead of taking all of a board's memory.

use std::io::Read;
use std::path::Path;

/// `max` as a size a person reads: "64 MiB", "4 KiB" or "100 bytes".
pub fn size_text(max: u64) -> String {
    if max >= 1 << 20 && max % (1 << 20) == 0 {
        format!("{} MiB", max >> 20)
    } else if max >= 1 << 10 && max % (1 << 10) == 0 {
        format!("{} KiB", max >> 10)
    } else {
        format!("{max} bytes")
    }
}

/// All of `r` if it holds at most `max` bytes; more is an `InvalidData` error saying that
/// it holds more than `what` can (`what`: "a BPF object").
pub fn read_at_most(r: impl Read, max: u64, what: &str) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("more than {}, the most {what} may be", size_text(max)),
        ));
    }
    Ok(data)
}

/// The bytes of file `path`, at most `max` of them (see [`read_at_most`]).
pub fn read_file(path: &Path, max: u64, what: &str) -> std::io::Result<Vec<u8>> {
    read_at_most(std::fs::File::open(path)?, max, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_within_the_limit_is_read_whole() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(read_at_most(&data[..], 256, "x").unwrap(), data);
        assert_eq!(read_at_most(&b""[..], 0, "x").unwrap(), b"");
    }

    #[test]
    fn endless_or_oversized_input_is_an_error_naming_the_limit() {
        let e = read_file(Path::new("/dev/zero"), 1 << 20, "a BPF object").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(
            e.to_string(),
            "more than 1 MiB, the most a BPF object may be"
        );
        let e = read_at_most(&[0u8; 1025][..], 1024, "a list").unwrap_err();
        assert_eq!(e.to_string(), "more than 1 KiB, the most a list may be");
        assert!(read_at_most(&[0u8; 1024][..], 1024, "a list").is_ok());
        assert_eq!(size_text(1000), "1000 bytes");
    }

    #[test]
    fn a_missing_file_keeps_the_os_error() {
        let e = read_file(Path::new("/nonexistent/x"), 10, "x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
