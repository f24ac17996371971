use super::*;
use std::sync::Arc;

const SAMPLE: &str = "\
# mailkeep users
alice:{PLAIN}secret:1000:1000:Alice A.:/home/alice::userdb_quota_rule=*:storage=1G nopassword

bob:{SHA512-CRYPT}$6$salt$hash:1001:100::/var/mail/bob
   # indented comment
carol:{PLAIN}pw
dave:{PLAIN}pw::::::
";

#[test]
fn parses_full_short_and_empty_fields() {
    let file = PasswdFile::parse(SAMPLE, "/etc/mailkeep/passwd").unwrap();
    assert_eq!(file.entries().len(), 4);

    let alice = file.lookup("alice").unwrap();
    assert_eq!(alice.password, "{PLAIN}secret");
    assert_eq!((alice.uid, alice.gid), (Some(1000), Some(1000)));
    assert_eq!(alice.home.as_deref(), Some(Path::new("/home/alice")));
    assert_eq!(
        alice.extra,
        vec![
            ("userdb_quota_rule".to_owned(), "*:storage=1G".to_owned()),
            ("nopassword".to_owned(), String::new()),
        ]
    );
    assert_eq!(alice.extra_field("nopassword"), Some(""));

    let bob = file.lookup("bob").unwrap();
    assert_eq!(bob.password, "{SHA512-CRYPT}$6$salt$hash");
    assert_eq!((bob.uid, bob.gid), (Some(1001), Some(100)));
    assert_eq!(bob.home.as_deref(), Some(Path::new("/var/mail/bob")));
    assert!(bob.extra.is_empty());

    // A pure passdb line: no uid, gid or home.
    let carol = file.lookup("carol").unwrap();
    assert_eq!(
        (carol.uid, carol.gid, carol.home.clone()),
        (None, None, None)
    );
    let dave = file.lookup("dave").unwrap();
    assert_eq!((dave.uid, dave.gid, dave.home.clone()), (None, None, None));

    assert!(file.lookup("Alice").is_none(), "names are exact");
    assert!(file.lookup("nobody").is_none());
}

#[test]
fn crlf_line_endings_are_accepted() {
    let file = PasswdFile::parse("alice:{PLAIN}pw:1:2::/h\r\n", "p").unwrap();
    assert_eq!(
        file.lookup("alice").unwrap().home.as_deref(),
        Some(Path::new("/h"))
    );
}

fn parse_error(text: &str) -> (usize, String) {
    match PasswdFile::parse(text, "/etc/mailkeep/passwd") {
        Err(AuthError::Parse { path, line, reason }) => {
            assert_eq!(path, Path::new("/etc/mailkeep/passwd"));
            (line, reason)
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// Domains are case-insensitive, local parts are not: an account written
/// with an upper-case domain (by hand, or `mailkeep user add`) is found
/// with the domain in any case. It was found only as written.
#[test]
fn the_domain_is_looked_up_in_any_case() {
    let file = PasswdFile::parse("Ann@Example.ORG:{PLAIN}x\nbob:{PLAIN}y\n", "/p").unwrap();
    for name in ["Ann@Example.ORG", "Ann@example.org", "Ann@EXAMPLE.ORG"] {
        let entry = file.lookup(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(entry.name, "Ann@Example.ORG");
    }
    for name in ["ann@example.org", "Ann", "BOB", "Ann@Example.ORG.x"] {
        assert!(file.lookup(name).is_none(), "{name}");
    }
}

#[test]
fn malformed_lines_name_their_line_number() {
    let (line, reason) = parse_error("# c\nalice:{PLAIN}x\nbob\n");
    assert_eq!(line, 3);
    assert!(reason.contains("too few fields"), "{reason}");

    let (line, reason) = parse_error("alice:{PLAIN}x:10x:1\n");
    assert_eq!(line, 1);
    assert!(reason.contains("uid") && reason.contains("10x"), "{reason}");

    let (line, reason) = parse_error("\n\nalice:{PLAIN}x:1:-1\n");
    assert_eq!(line, 3);
    assert!(reason.contains("gid"), "{reason}");

    let (line, reason) = parse_error(":{PLAIN}x\n");
    assert_eq!(line, 1);
    assert!(reason.contains("empty user name"), "{reason}");

    let (line, reason) = parse_error("a:{PLAIN}x\nb:{PLAIN}y\na:{PLAIN}z\n");
    assert_eq!(line, 3);
    assert!(reason.contains("line 1"), "{reason}");

    // One account in two spellings of its domain.
    let (line, reason) = parse_error("a@example.org:{PLAIN}x\na@Example.ORG:{PLAIN}y\n");
    assert_eq!(line, 2);
    assert!(reason.contains("line 1"), "{reason}");

    let message = PasswdFile::parse("x\n", "/etc/p").unwrap_err().to_string();
    assert!(message.starts_with("/etc/p:1: "), "{message}");
}

#[test]
fn debug_output_hides_the_hash() {
    let file = PasswdFile::parse("alice:{PLAIN}topsecret\n", "p").unwrap();
    let shown = format!("{:?}", file.lookup("alice").unwrap());
    assert!(!shown.contains("topsecret"), "{shown}");
}

#[test]
fn load_reports_missing_file_with_path() {
    let err = PasswdFile::load("/nonexistent/mailkeep/passwd").unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/mailkeep/passwd"),
        "{err}"
    );
}

#[test]
fn watched_file_reloads_after_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    std::fs::write(&path, "alice:{PLAIN}a\n").unwrap();
    set_modified_ago(&path, 10);
    let watched = crate::reload::WatchedPasswdFile::new(&path);
    let first = watched.current().unwrap();
    assert!(watched.lookup("alice").unwrap().is_some());
    // Unchanged file: the same parse is reused.
    assert!(Arc::ptr_eq(&first, &watched.current().unwrap()));
    // Rewritten by rename (new inode), as the editor does.
    let tmp = dir.path().join("new");
    std::fs::write(&tmp, "bob:{PLAIN}b\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert!(watched.lookup("alice").unwrap().is_none());
    assert!(watched.lookup("bob").unwrap().is_some());
    // A broken file fails closed instead of serving the old users.
    std::fs::write(&path, "bob:{PLAIN}b:notanumber\n").unwrap();
    assert!(watched.lookup("bob").is_err());
}

/// Sets `path`'s modification time `secs` seconds back.
fn set_modified_ago(path: &std::path::Path, secs: u64) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn a_file_changed_in_place_under_the_same_stamp_is_not_served_stale() {
    use std::io::{Seek, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    std::fs::write(&path, "alice:{PLAIN}a\n").unwrap();
    let watched = crate::reload::WatchedPasswdFile::new(&path);
    assert!(watched.lookup("alice").unwrap().is_some());
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    // Rewritten in place, same size, and its time put back: the stamp is
    // the one read, as after a rewrite within one tick of the file clock.
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(std::io::SeekFrom::Start(0)).unwrap();
    file.write_all(b"carol:{PLAIN}c").unwrap();
    file.set_modified(before).unwrap();
    drop(file);
    assert!(
        watched.lookup("alice").unwrap().is_none(),
        "a file changed a moment ago is read again"
    );
    assert!(watched.lookup("carol").unwrap().is_some());
}

#[test]
fn name_validation() {
    for good in ["alice", "alice@example.org", "a.b-c_d+e", &"x".repeat(64)] {
        assert!(validate_name(good).is_ok(), "{good:?}");
    }
    for bad in [
        "",
        "a:b",
        "a b",
        "a\tb",
        "a\u{7}b",
        "a/b",
        "#x",
        &"x".repeat(65),
        "a\u{a0}b",
    ] {
        assert!(
            matches!(validate_name(bad), Err(AuthError::BadName { .. })),
            "{bad:?}"
        );
    }
}

/// The entry of `line` (one passwd-file line).
fn entry(line: &str) -> UserEntry {
    parse_line(line).unwrap().unwrap()
}

#[test]
fn a_dovecot_mail_location_names_the_maildir() {
    let home = "alice:{PLAIN}x:1000:1000::/home/alice::";
    let cases = [
        ("userdb_mail=maildir:~/Maildir", "/home/alice/Maildir"),
        ("mail=maildir:~/Mail/box", "/home/alice/Mail/box"),
        ("userdb_mail=maildir:~", "/home/alice"),
        (
            "userdb_mail=maildir:/var/vmail/%d/%n:INDEX=/var/idx/%u:LAYOUT=maildir++",
            "/var/vmail//alice",
        ),
        ("userdb_mail=MAILDIR:%h/Maildir", "/home/alice/Maildir"),
        ("userdb_mail=maildir:%{home}/x%%y", "/home/alice/x%y"),
    ];
    for (extra, want) in cases {
        let e = entry(&format!("{home}{extra}"));
        assert_eq!(e.maildir(), Ok(Some(PathBuf::from(want))), "{extra}");
    }
    let e = entry("bob@example.org:{PLAIN}x:1:1::/home/b::mail=maildir:/m/%d/%n/%u");
    assert_eq!(
        e.maildir(),
        Ok(Some(PathBuf::from("/m/example.org/bob/bob@example.org")))
    );
    // userdb_mail wins over a bare mail field.
    let e = entry(&format!("{home}mail=maildir:/a userdb_mail=maildir:/b"));
    assert_eq!(e.maildir(), Ok(Some(PathBuf::from("/b"))));
    assert_eq!(entry(home).maildir(), Ok(None));
}

#[test]
fn a_mail_location_mailkeep_cannot_serve_is_an_error() {
    for extra in [
        "userdb_mail=mbox:~/mail:INBOX=/var/mail/alice",
        "userdb_mail=sdbox:~/dbox",
        "userdb_mail=~/Maildir",
        "userdb_mail=maildir:~/Maildir:LAYOUT=fs",
        "userdb_mail=maildir:Maildir",
        "userdb_mail=maildir:",
        "userdb_mail=maildir:/m/%x",
    ] {
        let e = entry(&format!("alice:{{PLAIN}}x:1:1::/home/alice::{extra}"));
        let err = e.maildir().expect_err(extra);
        assert_eq!(err.user, "alice");
    }
    // ~ needs a home.
    let e = entry("carol:{PLAIN}x:1:1::::userdb_mail=maildir:~/Maildir");
    assert!(e.maildir().unwrap_err().reason.contains("home"));
}
