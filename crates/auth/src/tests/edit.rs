use super::*;
use std::os::unix::fs::PermissionsExt;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn verify(path: &Path, name: &str, password: &str) -> bool {
    let file = PasswdFile::load(path).unwrap();
    let entry = file.lookup(name).unwrap();
    crate::scheme::verify_password(&entry.password, password.as_bytes()).unwrap()
}

#[test]
fn add_creates_file_0600_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    add_user(
        &path,
        "alice",
        "pw-a",
        5000,
        5000,
        Path::new("/var/mail/alice"),
    )
    .unwrap();
    assert_eq!(mode(&path), 0o600);
    add_user(
        &path,
        "bob@example.org",
        "pw-b",
        5000,
        5001,
        Path::new("/var/mail/bob"),
    )
    .unwrap();

    let users = list_users(&path).unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob@example.org"]);
    assert_eq!(users[1].uid, Some(5000));
    assert_eq!(users[1].gid, Some(5001));
    assert_eq!(users[1].home.as_deref(), Some(Path::new("/var/mail/bob")));
    assert!(users[0].password.starts_with("{ARGON2ID}$argon2id$"));
    assert!(verify(&path, "alice", "pw-a"));
    assert!(!verify(&path, "alice", "pw-b"));

    set_password(&path, "alice", "new-pw").unwrap();
    assert!(verify(&path, "alice", "new-pw"));
    assert!(!verify(&path, "alice", "pw-a"));
    assert_eq!(mode(&path), 0o600);

    delete_user(&path, "alice").unwrap();
    let names: Vec<String> = list_users(&path)
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["bob@example.org"]);
    assert_eq!(mode(&path), 0o600);

    // No temporary files are left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn duplicates_and_bad_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    add_user(&path, "alice", "pw", 1, 1, Path::new("/h")).unwrap();
    assert!(matches!(
        add_user(&path, "alice", "other", 1, 1, Path::new("/h")),
        Err(AuthError::DuplicateUser { .. })
    ));
    for bad in ["", "a:b", "a b", "a/b", "a\nb", &"x".repeat(65)] {
        assert!(
            matches!(
                add_user(&path, bad, "pw", 1, 1, Path::new("/h")),
                Err(AuthError::BadName { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        add_user(&path, "carol", "pw", 1, 1, Path::new("/h:x")),
        Err(AuthError::BadField { .. })
    ));
    assert!(matches!(
        add_user(&path, "carol", "", 1, 1, Path::new("/h")),
        Err(AuthError::BadField { .. })
    ));
    // Another spelling of an account's domain names the same account.
    add_user(&path, "dan@Example.ORG", "pw", 1, 1, Path::new("/h")).unwrap();
    assert!(matches!(
        add_user(&path, "dan@example.org", "pw", 1, 1, Path::new("/h")),
        Err(AuthError::DuplicateUser { .. })
    ));
    set_password(&path, "dan@EXAMPLE.org", "new").unwrap();
    delete_user(&path, "dan@example.org").unwrap();
    assert_eq!(list_users(&path).unwrap().len(), 1);
}

#[test]
fn unknown_users_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    assert!(
        list_users(&path).unwrap().is_empty(),
        "missing file lists nobody"
    );
    add_user(&path, "alice", "pw", 1, 1, Path::new("/h")).unwrap();
    assert!(matches!(
        set_password(&path, "bob", "x"),
        Err(AuthError::NoSuchUser { .. })
    ));
    assert!(matches!(
        delete_user(&path, "bob"),
        Err(AuthError::NoSuchUser { .. })
    ));
}

#[test]
fn comments_and_other_lines_are_preserved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    let original = "\
# Users of example.org
#   keep this comment

alice:{PLAIN}a:1:1:Alice:/home/alice:/bin/false:userdb_quota_rule=*:storage=1G
bob:{PLAIN}b
";
    fs::write(&path, original).unwrap();
    add_user(&path, "carol", "c", 2, 2, Path::new("/home/carol")).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(original), "{text}");

    set_password(&path, "alice", "new").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let alice = text.lines().find(|l| l.starts_with("alice:")).unwrap();
    assert!(alice.starts_with("alice:{ARGON2ID}$argon2id$"), "{alice}");
    assert!(
        alice.ends_with(":1:1:Alice:/home/alice:/bin/false:userdb_quota_rule=*:storage=1G"),
        "{alice}"
    );
    // A passdb-only line keeps its shape.
    set_password(&path, "bob", "new-b").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let bob = text.lines().find(|l| l.starts_with("bob:")).unwrap();
    assert_eq!(bob.matches(':').count(), 1, "{bob}");

    delete_user(&path, "carol").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Users of example.org\n#   keep this comment\n\nalice:"));
    assert!(!text.contains("carol"));
    assert!(verify(&path, "bob", "new-b"));
}

#[test]
fn malformed_file_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    fs::write(&path, "alice:{PLAIN}a\nbroken\n").unwrap();
    match add_user(&path, "bob", "pw", 1, 1, Path::new("/h")) {
        Err(AuthError::Parse { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "alice:{PLAIN}a\nbroken\n"
    );
}

#[test]
fn a_chosen_scheme_is_stored_and_passwd_can_change_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    add_user_with_scheme(
        &path,
        "sam",
        "pencil",
        PasswordScheme::ScramSha256,
        5000,
        5000,
        Path::new("/var/mail/sam"),
    )
    .unwrap();
    let stored = |name: &str| {
        PasswdFile::load(&path)
            .unwrap()
            .lookup(name)
            .unwrap()
            .password
            .clone()
    };
    assert!(stored("sam").starts_with("{SCRAM-SHA-256}4096,"));
    assert!(verify(&path, "sam", "pencil"));

    set_password_with_scheme(&path, "sam", "crayon", PasswordScheme::Sha512Crypt).unwrap();
    assert!(stored("sam").starts_with("{SHA512-CRYPT}$6$"));
    assert!(verify(&path, "sam", "crayon"));
    assert!(!verify(&path, "sam", "pencil"));
    // The rest of the line is kept.
    let entry = PasswdFile::load(&path)
        .unwrap()
        .lookup("sam")
        .unwrap()
        .clone();
    assert_eq!(entry.home.as_deref(), Some(Path::new("/var/mail/sam")));

    // A {PLAIN} password that would break the line is refused, and the file
    // keeps the old one.
    let refused = set_password_with_scheme(&path, "sam", "a:b", PasswordScheme::Plain);
    assert!(
        matches!(refused, Err(AuthError::BadField { .. })),
        "{refused:?}"
    );
    assert!(verify(&path, "sam", "crayon"));
}

#[test]
fn edits_keep_the_group_read_bit_for_auth_and_never_open_the_file_to_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    add_user(&path, "amy", "pw-1", 5000, 5000, "/home/amy".as_ref()).unwrap();
    assert_eq!(mode(&path), 0o600);
    // The master makes it root:auth 0640; a careless chmod gave others read.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    add_user(&path, "ben", "pw-2", 5000, 5000, "/home/ben".as_ref()).unwrap();
    assert_eq!(mode(&path), 0o640, "group read kept, others dropped");
    set_password(&path, "amy", "pw-3").unwrap();
    assert_eq!(mode(&path), 0o640);
}
