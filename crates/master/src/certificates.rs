//! TLS certificates for the protocol services: read from the configured
//! PEM files (or a self-signed pair made at first start under the data
//! directory), checked, and handed to protocol processes, which are
//! chrooted and cannot read files. The files are watched by their
//! modification stamps; a change is loaded and pushed to every running
//! protocol process (see `protocols`).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use mailkeep_config::{Config, TlsMinVersion};
use mailkeep_storage_rpc::broker::{ServerCertificate, ServerCertificates, TlsVersion};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::MasterError;

/// Why certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertificateLoadError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The files do not make a usable configuration.
    #[error("TLS certificates ({files}): {source}")]
    Unusable {
        /// The files involved.
        files: String,
        /// Why.
        #[source]
        source: mailkeep_frontend::CertificateError,
    },
}

/// One certificate's files and the SNI names it serves (none: default).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Files {
    names: Vec<String>,
    cert: PathBuf,
    key: PathBuf,
}

/// What identifies a file's content without reading it: a replaced or
/// rewritten file changes at least one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    fs::metadata(path).ok().map(|m| Stamp {
        inode: m.ino(),
        len: m.len(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// The certificates in use and the stamps of their files.
pub struct CertificateWatch {
    files: Vec<Files>,
    min_version: TlsVersion,
    stamps: Vec<Option<Stamp>>,
    current: ServerCertificates,
}

impl CertificateWatch {
    /// Loads the configured certificates (or the self-signed pair); fails
    /// if they are unusable, so a bad setting stops the start.
    pub fn load(config: &Config) -> Result<CertificateWatch, CertificateLoadError> {
        let files = files_of(config);
        let min_version = match config.tls.min_version {
            TlsMinVersion::Tls12 => TlsVersion::Tls12,
            TlsMinVersion::Tls13 => TlsVersion::Tls13,
        };
        let stamps = stamps_of(&files);
        let current = read(&files, min_version, 1)?;
        Ok(CertificateWatch {
            files,
            min_version,
            stamps,
            current,
        })
    }

    /// The certificates in use.
    pub fn current(&self) -> &ServerCertificates {
        &self.current
    }

    /// Checks the files' stamps (inode, size, modification time); when
    /// one changed, or when `force`d (SIGHUP: a file rewritten in place
    /// within one clock tick keeps its stamp), loads them all again.
    /// `Ok(Some)`: new certificates (the next generation) to hand out.
    /// `Err`: the files are unusable (e.g. a key written after its
    /// certificate and not yet there); the old ones stay in use and the
    /// files are tried again when they change once more.
    pub fn check(
        &mut self,
        force: bool,
    ) -> Result<Option<&ServerCertificates>, CertificateLoadError> {
        let stamps = stamps_of(&self.files);
        if stamps == self.stamps && !force {
            return Ok(None);
        }
        // Noted first: the files are read after, so a change while reading
        // shows as a new stamp at the next check.
        self.stamps = stamps;
        let next = read(&self.files, self.min_version, self.current.generation + 1)?;
        if next.default_certificate == self.current.default_certificate
            && next.by_name == self.current.by_name
        {
            return Ok(None);
        }
        self.current = next;
        Ok(Some(&self.current))
    }
}

fn files_of(config: &Config) -> Vec<Files> {
    let default = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => config.self_signed_files(),
    };
    let mut files = vec![Files {
        names: Vec::new(),
        cert: default.0,
        key: default.1,
    }];
    files.extend(config.tls.sni.iter().map(|s| Files {
        names: s.names.clone(),
        cert: s.cert_file.clone(),
        key: s.key_file.clone(),
    }));
    files
}

fn stamps_of(files: &[Files]) -> Vec<Option<Stamp>> {
    files
        .iter()
        .flat_map(|f| [stamp(&f.cert), stamp(&f.key)])
        .collect()
}

fn read_file(path: &Path) -> Result<Vec<u8>, CertificateLoadError> {
    fs::read(path).map_err(|source| CertificateLoadError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read(
    files: &[Files],
    min_version: TlsVersion,
    generation: u64,
) -> Result<ServerCertificates, CertificateLoadError> {
    let mut certs = files.iter().map(|f| {
        Ok(ServerCertificate {
            server_names: f.names.clone(),
            chain_pem: read_file(&f.cert)?,
            key_pem: read_file(&f.key)?,
        })
    });
    let default = certs.next().transpose()?;
    let by_name = certs.collect::<Result<Vec<_>, CertificateLoadError>>()?;
    let message = ServerCertificates {
        default_certificate: default,
        by_name,
        min_version: min_version as i32,
        generation,
    };
    mailkeep_frontend::tls::check_certificates(&message).map_err(|source| {
        CertificateLoadError::Unusable {
            files: files
                .iter()
                .map(|f| format!("{} + {}", f.cert.display(), f.key.display()))
                .collect::<Vec<_>>()
                .join(", "),
            source,
        }
    })?;
    Ok(message)
}

/// The SHA-256 fingerprint of the first certificate in `pem`, as
/// `AB:CD:...` (what `openssl x509 -fingerprint -sha256` prints).
pub fn fingerprint(pem: &[u8]) -> Option<String> {
    let der: CertificateDer<'_> = CertificateDer::pem_slice_iter(pem).next()?.ok()?;
    let digest = Sha256::digest(der.as_ref());
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// With no certificate configured, makes the self-signed pair under the
/// data directory if it is missing, for `hostname`, `localhost`,
/// 127.0.0.1 and ::1. Returns the new certificate's path and SHA-256
/// fingerprint when it made one (printed once, as the demo password is).
pub fn ensure_self_signed(
    config: &Config,
    hostname: &str,
) -> Result<Option<(PathBuf, String)>, MasterError> {
    if config.tls.cert_file.is_some() {
        return Ok(None);
    }
    let (cert_path, key_path) = config.self_signed_files();
    if cert_path.exists() && key_path.exists() {
        return Ok(None);
    }
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".into(), "::1".into()];
    if !hostname.is_empty() && hostname != "localhost" {
        names.insert(0, hostname.to_owned());
    }
    let setup =
        |e: rcgen::Error| MasterError::Setup(format!("making a self-signed certificate: {e}"));
    let key = rcgen::KeyPair::generate().map_err(setup)?;
    let mut params = rcgen::CertificateParams::new(names).map_err(setup)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("mailkeep on {hostname}"));
    // Valid for ten years from a day ago (clocks differ).
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let cert = params.self_signed(&key).map_err(setup)?;
    if let Some(dir) = cert_path.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| MasterError::io(format!("creating {}", dir.display()), e))?;
    }
    write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert_path, cert.pem().as_bytes(), 0o644)?;
    let fingerprint = fingerprint(cert.pem().as_bytes())
        .ok_or_else(|| MasterError::Setup("the new certificate does not parse".into()))?;
    Ok(Some((cert_path, fingerprint)))
}

/// Writes a file (replacing one left half-made by an interrupted start).
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), MasterError> {
    let err = |e| MasterError::io(format!("writing {}", path.display()), e);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path, tls: &str) -> Config {
        let path = dir.join("c.toml");
        fs::write(
            &path,
            format!(
                "[server]\ndata_dir = \"{}\"\n{tls}",
                dir.join("data").display()
            ),
        )
        .expect("write");
        Config::load(Some(&path)).expect("config")
    }

    /// Replaces a file as certificate tools do: a new file renamed over.
    fn replace(path: &Path, text: &str) {
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, text).expect("write");
        fs::rename(&tmp, path).expect("rename");
    }

    fn pair(names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn the_first_start_makes_a_self_signed_certificate_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config_in(dir.path(), "");
        let (path, print) = ensure_self_signed(&config, "mail.test")
            .expect("made")
            .expect("first start makes one");
        assert_eq!(print.len(), 32 * 3 - 1);
        let pem = fs::read(&path).expect("cert");
        assert_eq!(fingerprint(&pem).as_deref(), Some(print.as_str()));
        let key_mode = fs::metadata(config.self_signed_files().1)
            .expect("key")
            .mode();
        assert_eq!(key_mode & 0o777, 0o600);
        assert!(
            ensure_self_signed(&config, "mail.test")
                .expect("again")
                .is_none()
        );
        let watch = CertificateWatch::load(&config).expect("usable");
        assert_eq!(watch.current().generation, 1);
        assert!(watch.current().by_name.is_empty());
    }

    #[test]
    fn changed_files_are_loaded_as_the_next_generation_and_bad_ones_wait() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("c.key"));
        let (cert, key) = pair(&["mail.test"]);
        fs::write(&cert_path, &cert).expect("write");
        fs::write(&key_path, &key).expect("write");
        let config = config_in(
            dir.path(),
            &format!(
                "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nmin_version = \"1.3\"\n",
                cert_path.display(),
                key_path.display()
            ),
        );
        assert!(
            ensure_self_signed(&config, "x")
                .expect("nothing to do")
                .is_none()
        );
        let mut watch = CertificateWatch::load(&config).expect("load");
        assert_eq!(watch.current().min_version, TlsVersion::Tls13 as i32);
        assert!(
            watch.check(false).expect("check").is_none(),
            "nothing changed"
        );
        assert!(watch.check(true).expect("check").is_none(), "same contents");

        // A new certificate whose key is not written yet: refused, old kept.
        let (cert2, key2) = pair(&["mail.test"]);
        replace(&cert_path, &cert2);
        assert!(watch.check(false).is_err());
        assert_eq!(watch.current().generation, 1);
        assert!(watch.check(false).expect("unchanged since").is_none());
        // Then the key: loaded.
        replace(&key_path, &key2);
        let next = watch.check(false).expect("check").expect("changed");
        assert_eq!(next.generation, 2);
        assert_eq!(
            next.default_certificate
                .as_ref()
                .map(|c| c.chain_pem.clone()),
            Some(cert2.into_bytes())
        );
    }

    #[test]
    fn sni_certificates_are_loaded_with_their_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, ak) = pair(&["a.test"]);
        let (b, bk) = pair(&["b.test"]);
        for (name, text) in [("a.pem", &a), ("a.key", &ak), ("b.pem", &b), ("b.key", &bk)] {
            fs::write(dir.path().join(name), text).expect("write");
        }
        let d = dir.path().display();
        let config = config_in(
            dir.path(),
            &format!(
                "[tls]\ncert_file = \"{d}/a.pem\"\nkey_file = \"{d}/a.key\"\n\
                 [[tls.sni]]\nnames = [\"b.test\"]\ncert_file = \"{d}/b.pem\"\nkey_file = \"{d}/b.key\"\n"
            ),
        );
        let watch = CertificateWatch::load(&config).expect("load");
        assert_eq!(watch.current().by_name.len(), 1);
        assert_eq!(
            watch.current().by_name[0].server_names,
            vec!["b.test".to_owned()]
        );

        let missing = config_in(
            dir.path(),
            &format!("[tls]\ncert_file = \"{d}/none.pem\"\nkey_file = \"{d}/a.key\"\n"),
        );
        let err = CertificateWatch::load(&missing)
            .err()
            .expect("missing file")
            .to_string();
        assert!(err.contains("none.pem"), "{err}");
    }
}
