//! Running `mbsync` (isync) against the test's server: its configuration
//! (IMAPS on the pre-bound listener, the server's self-signed certificate
//! pinned with `CertificateFile`) and one run with its IMAP exchange
//! logged (`-Dn`), so that a failure shows what was said.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::wait_output;

/// How long one mbsync run may take (a few seconds at most when well).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// An mbsync setup: its rc file and the local Maildir root it syncs to.
pub struct Mbsync {
    /// The rc file (`mbsync -c`).
    pub rc: PathBuf,
    /// The local mail: `Path` of the Maildir store, the inbox at `INBOX`.
    pub local: PathBuf,
    home: PathBuf,
}

/// What one run did.
pub struct Run {
    /// Whether mbsync exited 0.
    pub success: bool,
    /// Its exit status, for messages.
    pub status: String,
    /// Its stdout and stderr: progress, the IMAP exchange (`-Dn`), errors.
    pub log: String,
}

impl Run {
    /// The IMAP commands mbsync sent (`>>> TAG COMMAND ...` in the log,
    /// after a progress note such as `(2 in progress) ` when pipelined),
    /// each without its tag.
    pub fn commands(&self) -> Vec<String> {
        self.log
            .lines()
            .filter_map(|l| l.find(">>> ").map(|at| &l[at + 4..]))
            .filter_map(|l| l.split_once(' ').map(|(_tag, rest)| rest.to_owned()))
            .collect()
    }
}

impl Mbsync {
    /// Writes an rc file under `dir` for `user`/`password` at the server's
    /// implicit-TLS port `port`, trusting the certificate in `cert`,
    /// logging in with SASL mechanism `mechanism`, and syncing every
    /// mailbox both ways (new messages, deletions, flags), creating
    /// mailboxes on either side and expunging on both.
    pub fn setup(
        dir: &Path,
        port: u16,
        cert: &Path,
        (user, password): (&str, &str),
        mechanism: &str,
    ) -> Mbsync {
        let local = dir.join("local-mail");
        std::fs::create_dir_all(&local).expect("making the local mail directory");
        let home = dir.join("mbsync-home");
        std::fs::create_dir_all(&home).expect("making mbsync's home");
        let rc = dir.join("mbsyncrc");
        let text = format!(
            "IMAPAccount mailkeep\n\
             Host 127.0.0.1\n\
             Port {port}\n\
             User {user}\n\
             Pass {password}\n\
             SSLType IMAPS\n\
             SystemCertificates no\n\
             CertificateFile {cert}\n\
             AuthMechs {mechanism}\n\
             Timeout 60\n\
             \n\
             IMAPStore server\n\
             Account mailkeep\n\
             \n\
             MaildirStore local\n\
             Path {local}/\n\
             Inbox {local}/INBOX\n\
             SubFolders Verbatim\n\
             \n\
             Channel mail\n\
             Far :server:\n\
             Near :local:\n\
             Patterns *\n\
             Sync All\n\
             Create Both\n\
             Expunge Both\n\
             CopyArrivalDate yes\n\
             SyncState *\n",
            cert = cert.display(),
            local = local.display(),
        );
        std::fs::write(&rc, text).expect("writing the mbsyncrc");
        Mbsync { rc, local, home }
    }

    /// Runs `mbsync -Dn -c RC mail` (the whole channel) and returns what
    /// it did.
    pub fn run(&self) -> Run {
        self.run_with(&[])
    }

    /// Runs `mbsync -Dn -l -c RC mail`: logs in and lists the mailboxes
    /// of both sides, changing nothing.
    pub fn list(&self) -> Run {
        self.run_with(&["-l"])
    }

    fn run_with(&self, options: &[&str]) -> Run {
        let child = Command::new("mbsync")
            .arg("-Dn")
            .args(options)
            .arg("-c")
            .arg(&self.rc)
            .arg("mail")
            .env("HOME", &self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting mbsync");
        let out = wait_output(child, RUN_LIMIT);
        Run {
            success: out.status.success(),
            status: out.status.to_string(),
            log: format!(
                "--- mbsync stdout ---\n{}\n--- mbsync stderr ---\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}
