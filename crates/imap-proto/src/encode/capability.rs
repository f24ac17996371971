//! `* CAPABILITY ...` and `* ENABLED ...` (RFC 5161).

/// Appends `* CAPABILITY IMAP4rev2 ...\r\n`.
pub fn capability_line(out: &mut Vec<u8>, capabilities: &[&str]) {
    out.extend_from_slice(b"* CAPABILITY");
    for cap in capabilities {
        out.push(b' ');
        out.extend_from_slice(cap.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `* ENABLED CONDSTORE ...\r\n`: the capabilities an ENABLE
/// turned on that were not on before (possibly none).
pub fn enabled(out: &mut Vec<u8>, capabilities: &[&str]) {
    out.extend_from_slice(b"* ENABLED");
    for cap in capabilities {
        out.push(b' ');
        out.extend_from_slice(cap.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}
