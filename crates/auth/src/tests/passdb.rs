//! Which accounts SCRAM can serve, and how unknown names blend in.

use std::path::Path;

use super::*;

/// `doveadm pw -s SCRAM-SHA-256 -p pencil`.
const SCRAM_SHA256: &str = "{SCRAM-SHA-256}4096,YLsIdtr6heZ489wv6yybFQ==,\
    2JNoVKQ+OQRgVEcQwbbseDiP8oPdvb7/2Xii9c78+jQ=,hRHj4GzBj3/vqH/4gHNZiBl3yLfFGGmUFbfPhY2dvvs=";

/// `doveadm pw -s SHA512-CRYPT -p pencil` (a one-way hash).
const CRYPT: &str = "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";

fn passdb(dir: &Path, lines: &[String]) -> Passdb {
    let path = dir.join("passwd");
    std::fs::write(&path, lines.join("\n")).unwrap();
    Passdb::new(WatchedPasswdFile::new(path), 500)
}

fn keys(lookup: ScramLookup) -> ScramKeys {
    match lookup {
        ScramLookup::Credentials(ScramCredentials::Keys(keys)) => keys,
        other => panic!("expected keys, got {other:?}"),
    }
}

fn fake(lookup: ScramLookup) -> (String, &'static str) {
    match lookup {
        ScramLookup::Credentials(ScramCredentials::Fake {
            salt_b64,
            iterations,
            reason,
        }) => {
            assert_eq!(iterations, DEFAULT_ITERATIONS);
            (salt_b64, reason)
        }
        other => panic!("expected made-up credentials, got {other:?}"),
    }
}

fn unavailable(lookup: ScramLookup) -> &'static str {
    match lookup {
        ScramLookup::Unavailable(reason) => reason,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[test]
fn stored_schemes_decide_which_scram_an_account_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let db = passdb(
        dir.path(),
        &[
            format!("scram:{SCRAM_SHA256}:1000:1000"),
            "plain:{PLAIN}pencil:1000:1000".to_owned(),
            format!("crypt:{CRYPT}:1000:1000"),
            "nopass::1000:1000".to_owned(),
            "broken:{SCRAM-SHA-256}4096,x:1000:1000".to_owned(),
        ],
    );
    let sha256 = ScramHash::Sha256;
    assert!(keys(db.scram_lookup("scram", sha256).unwrap()).matches_password(b"pencil"));
    assert_eq!(
        unavailable(db.scram_lookup("scram", ScramHash::Sha1).unwrap()),
        "the stored password scheme cannot serve SCRAM"
    );
    // {PLAIN} serves both hashes, with a salt that stays the same.
    for hash in [ScramHash::Sha1, sha256] {
        let a = keys(db.scram_lookup("plain", hash).unwrap());
        let b = keys(db.scram_lookup("plain", hash).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.hash, hash);
        assert!(a.matches_password(b"pencil"));
    }
    unavailable(db.scram_lookup("crypt", sha256).unwrap());
    assert_eq!(
        fake(db.scram_lookup("nopass", sha256).unwrap()).1,
        "user has no password"
    );
    assert_eq!(
        fake(db.scram_lookup("broken", sha256).unwrap()).1,
        "stored password cannot be checked"
    );
}

#[test]
fn unknown_names_look_like_the_most_common_kind_of_account() {
    let dir = tempfile::tempdir().unwrap();
    // Mostly one-way hashes: an unknown name is "unavailable", as they are.
    let db = passdb(
        dir.path(),
        &[
            format!("a:{CRYPT}"),
            format!("b:{CRYPT}"),
            format!("c:{SCRAM_SHA256}"),
        ],
    );
    assert_eq!(
        unavailable(db.scram_lookup("ghost", ScramHash::Sha256).unwrap()),
        "unknown user"
    );

    // Mostly SCRAM: an unknown name gets a salt, the same one every time,
    // one per name, shaped like a real one.
    let db = passdb(
        dir.path(),
        &[
            format!("a:{SCRAM_SHA256}"),
            "b:{PLAIN}x".to_owned(),
            format!("c:{CRYPT}"),
        ],
    );
    let (salt, reason) = fake(db.scram_lookup("ghost", ScramHash::Sha256).unwrap());
    assert_eq!(reason, "unknown user");
    assert_eq!(STANDARD.decode(&salt).unwrap().len(), SALT_LEN);
    assert_eq!(
        fake(db.scram_lookup("ghost", ScramHash::Sha256).unwrap()).0,
        salt
    );
    assert_ne!(
        fake(db.scram_lookup("ghost2", ScramHash::Sha256).unwrap()).0,
        salt
    );
    // For SHA-1 only b's {PLAIN} can, c cannot, a's SHA-256 record cannot:
    // most accounts cannot, so an unknown name is unavailable.
    unavailable(db.scram_lookup("ghost", ScramHash::Sha1).unwrap());
}

#[test]
fn the_tally_follows_edits_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = passdb(dir.path(), &[format!("a:{CRYPT}")]);
    unavailable(db.scram_lookup("ghost", ScramHash::Sha256).unwrap());
    let path = dir.path().join("passwd");
    std::fs::write(
        &path,
        format!("a:{SCRAM_SHA256}\nb:{SCRAM_SHA256}\nc:{CRYPT}\n"),
    )
    .unwrap();
    fake(db.scram_lookup("ghost", ScramHash::Sha256).unwrap());
}

#[test]
fn authenticated_users_must_still_exist_and_have_a_valid_uid() {
    let dir = tempfile::tempdir().unwrap();
    let db = passdb(
        dir.path(),
        &[
            format!("ok:{SCRAM_SHA256}:1000:1000"),
            format!("low:{SCRAM_SHA256}:100:100"),
        ],
    );
    assert_eq!(
        db.check_authenticated("ok").unwrap(),
        Checked::Valid("ok".to_owned())
    );
    assert!(matches!(
        db.check_authenticated("low").unwrap(),
        Checked::NotServed(reason) if reason.contains("uid 100")
    ));
    assert_eq!(
        db.check_authenticated("gone").unwrap(),
        Checked::Refused("user deleted during the exchange")
    );
}

/// Logins (password and SCRAM) and LMTP recipients name an account the same
/// way: the exact name, `local@domain` with the domain in any case, and the
/// bare `local` for any of several local domains; a foreign domain names no
/// bare account.
#[test]
fn logins_and_recipients_name_accounts_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let db = passdb(
        dir.path(),
        &[
            "alice:{PLAIN}pencil:1000:1000".to_owned(),
            "carol@example.com:{PLAIN}pencil:1000:1000".to_owned(),
        ],
    )
    .with_local_domains(vec!["example.org".to_owned(), "Example.NET".to_owned()]);
    let login = |name: &str, password: &[u8]| {
        db.check_password(&Credentials {
            authzid: None,
            authcid: name.to_owned(),
            password: password.to_vec(),
        })
        .unwrap()
    };
    let valid = |name: &str| Checked::Valid(name.to_owned());
    for name in [
        "alice",
        "alice@example.org",
        "alice@EXAMPLE.org",
        "alice@example.NET",
    ] {
        assert_eq!(login(name, b"pencil"), valid("alice"), "login {name}");
        assert_eq!(db.recipient(name).unwrap(), valid("alice"), "rcpt {name}");
        assert_eq!(db.check_authenticated(name).unwrap(), valid("alice"));
        assert!(
            keys(db.scram_lookup(name, ScramHash::Sha256).unwrap()).matches_password(b"pencil")
        );
        assert_eq!(
            db.check_password_if_cheap_in(
                &db.file().current().unwrap(),
                &Credentials {
                    authzid: None,
                    authcid: name.to_owned(),
                    password: b"pencil".to_vec(),
                }
            ),
            Some(valid("alice"))
        );
    }
    assert_eq!(
        login("alice@example.org", b"wrong"),
        Checked::Refused("wrong password")
    );
    for name in ["carol@example.com", "carol@Example.COM"] {
        assert_eq!(login(name, b"pencil"), valid("carol@example.com"), "{name}");
        assert_eq!(db.recipient(name).unwrap(), valid("carol@example.com"));
    }
    for name in [
        "alice@example.com",
        "alice@other.org",
        "carol",
        "@example.org",
    ] {
        assert_eq!(
            login(name, b"pencil"),
            Checked::Refused("unknown user"),
            "{name}"
        );
        assert_eq!(
            db.recipient(name).unwrap(),
            Checked::Refused("unknown recipient")
        );
    }
}

#[test]
fn account_names_tries_the_name_then_the_local_part() {
    let domains = ["example.org".to_owned()];
    assert_eq!(account_names("bob", &domains), vec!["bob"]);
    assert_eq!(
        account_names("Bob@EXAMPLE.org", &domains),
        vec!["Bob@EXAMPLE.org", "Bob"]
    );
    assert_eq!(
        account_names("bob@example.org", &domains),
        vec!["bob@example.org", "bob"]
    );
    assert_eq!(
        account_names("bob@example.net", &domains),
        vec!["bob@example.net"]
    );
    assert_eq!(
        account_names("a@b@example.org", &domains),
        vec!["a@b@example.org", "a@b"]
    );
}

/// A master login checks the master's password and opens the user's
/// session, both named canonically; the user's uid floor applies, and
/// only a listed master may act as anyone.
#[test]
fn a_master_acts_as_a_user_the_passdb_can_serve() {
    let dir = tempfile::tempdir().unwrap();
    let db = passdb(
        dir.path(),
        &[
            "admin:{PLAIN}master:1000:1000".to_owned(),
            "alice:{PLAIN}pencil:1000:1000".to_owned(),
            "bob:{PLAIN}pen:1000:1000".to_owned(),
            "low:{PLAIN}pencil:10:10".to_owned(),
        ],
    )
    .with_local_domains(vec!["example.org".to_owned()])
    .with_master_users(MasterUsers::new(vec!["admin".to_owned()], "*".to_owned()));
    let as_user = |user: &str, master: &str, password: &[u8]| {
        db.check_password(&Credentials {
            authzid: Some(user.to_owned()),
            authcid: master.to_owned(),
            password: password.to_vec(),
        })
        .unwrap()
    };
    let acting = Checked::ValidMaster {
        user: "alice".to_owned(),
        master: "admin".to_owned(),
    };
    assert_eq!(as_user("alice", "admin", b"master"), acting);
    assert_eq!(
        as_user("alice@example.org", "admin@EXAMPLE.org", b"master"),
        acting
    );
    assert!(matches!(
        as_user("low", "admin", b"master"),
        Checked::NotServed(_)
    ));
    assert_eq!(
        as_user("alice", "admin", b"pencil"),
        Checked::Refused("wrong master password")
    );
    assert_eq!(
        as_user("alice", "bob", b"pen"),
        Checked::Refused("not a master user")
    );
    assert_eq!(
        as_user("alice", "nobody", b"pen"),
        Checked::Refused("unknown master user")
    );
    assert_eq!(
        as_user("nobody", "admin", b"master"),
        Checked::Refused("unknown user")
    );
}
