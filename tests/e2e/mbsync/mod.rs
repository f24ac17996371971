//! A real synchronizing client, `mbsync` (isync, as Debian ships it),
//! through a two-way sync of a populated account over implicit TLS with
//! the server's self-signed certificate pinned: flags changed on both
//! sides, a local delete, a local new message, a new local folder; then a
//! sync that must change nothing. Both sides are checked exactly: the
//! server through IMAP (the test kit), the local Maildir through its
//! files. Every mbsync run logs its IMAP exchange (`-Dn`), shown when a
//! check fails.

mod run;
mod sides;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use mailkeep_testkit::{BlockingClient, quote};

use crate::harness::{Server, TestDir, make_message, require_program};
use run::{Mbsync, Run};
use sides::{Flags, Side, flags_of, read_local, read_server, to_crlf, to_lf, without_tuid};

const USER: &str = "syncer";
const PASS: &str = "syncer-secret-8";

/// Asserts an mbsync run succeeded, showing its log otherwise.
#[track_caller]
fn assert_ran(run: &Run, which: &str, server: &Server) {
    assert!(
        run.success,
        "{which} mbsync run failed ({}):\n{}\n{}",
        run.status,
        run.log,
        server.logs()
    );
}

/// A message's short id (`i1` for `<i1@mailkeep.test>`) and flags.
type MessageFlags<'a> = (&'a str, &'a [&'a str]);

/// `mailbox` → Message-ID → flags, from a compact description.
fn flags(spec: &[(&str, &[MessageFlags<'_>])]) -> Flags {
    spec.iter()
        .map(|(mailbox, msgs)| {
            let msgs = msgs
                .iter()
                .map(|(id, fl)| {
                    let mut fl: Vec<String> = fl.iter().map(|f| (*f).to_owned()).collect();
                    fl.sort();
                    (format!("{id}@mailkeep.test"), fl)
                })
                .collect();
            ((*mailbox).to_owned(), msgs)
        })
        .collect()
}

/// Asserts both sides hold exactly `expected` (flags) and that every
/// message's bytes are its original's: CRLF on the server, bare LF
/// locally, with nothing changed but the `X-TUID` line mbsync may add.
#[track_caller]
fn assert_sides(
    stage: &str,
    server_side: &Side,
    local_side: &Side,
    expected: &Flags,
    originals: &BTreeMap<String, Vec<u8>>,
    log: &str,
) {
    assert_eq!(
        &flags_of(server_side),
        expected,
        "{stage}: the server's mailboxes and flags\n{log}"
    );
    assert_eq!(
        &flags_of(local_side),
        expected,
        "{stage}: the local Maildir's folders and flags\n{log}"
    );
    for (side_name, side, form) in [
        ("server", server_side, to_crlf as fn(&[u8]) -> Vec<u8>),
        ("local", local_side, to_lf),
    ] {
        for (mailbox, msgs) in side {
            for (id, held) in msgs {
                let original = originals
                    .get(id)
                    .unwrap_or_else(|| panic!("{stage}: unknown message <{id}> in {mailbox}"));
                let want = form(original);
                let got = without_tuid(&held.bytes);
                assert!(
                    got == want,
                    "{stage}: {side_name} copy of <{id}> in {mailbox} differs from the \
                     original ({} bytes, want {}):\n{}\n{log}",
                    got.len(),
                    want.len(),
                    String::from_utf8_lossy(&got[..got.len().min(600)])
                );
            }
        }
    }
}

/// The path of the self-signed certificate the server printed at its
/// first start (`TLS certificate: self-signed, ... (PATH)`): what a user
/// gives mbsync as `CertificateFile`.
fn printed_certificate(server: &Server) -> PathBuf {
    let stdout = server.stdout();
    let path = stdout
        .lines()
        .find(|l| l.starts_with("TLS certificate: self-signed"))
        .and_then(|l| l.rsplit_once('(')?.1.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no certificate path printed\n{}", server.logs()));
    assert_eq!(
        Path::new(path),
        server.dir.data_dir().join("tls/self-signed.pem")
    );
    PathBuf::from(path)
}

/// The UID of the message with Message-ID `<id@mailkeep.test>` in the
/// selected mailbox, found by `UID SEARCH HEADER`.
fn uid_of(c: &mut BlockingClient, id: &str) -> u32 {
    let r = c.ok(&format!("UID SEARCH HEADER Message-ID {}", quote(id)));
    match r.search().as_slice() {
        [uid] => *uid,
        other => panic!("UID SEARCH for <{id}> found {other:?}: {r:?}"),
    }
}

/// Drops `message` into the `new/` of Maildir `maildir` as a delivery
/// agent does (written in `tmp/`, renamed into `new/`), owned by whoever
/// owns the Maildir. Returns the file's name.
fn deliver(maildir: &Path, name: &str, message: &[u8]) -> String {
    let owner = fs::metadata(maildir).expect("the account's Maildir exists");
    let tmp = maildir.join("tmp").join(name);
    fs::write(&tmp, message).expect("writing into tmp/");
    std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid())).expect("chown");
    fs::rename(&tmp, maildir.join("new").join(name)).expect("moving into new/");
    name.to_owned()
}

/// The local file of `<id@mailkeep.test>` in local folder `folder`.
fn local_file(folder: &Path, id: &str) -> PathBuf {
    for sub in ["cur", "new"] {
        for (name, bytes) in sides::files_in(&folder.join(sub)) {
            if sides::message_id(&bytes).as_deref() == Some(&format!("{id}@mailkeep.test")) {
                return folder.join(sub).join(name);
            }
        }
    }
    panic!("no local file of <{id}> in {}", folder.display());
}

/// Renames a local message file to carry Maildir info letters `letters`
/// (as a local mail client marks a message), keeping its base name.
fn set_local_letters(file: &Path, letters: &str) {
    let name = file.file_name().expect("a file name").to_string_lossy();
    let base = name.split_once(":2,").map_or(&*name, |(b, _)| b);
    let cur = file.parent().expect("a parent").with_file_name("cur");
    fs::rename(file, cur.join(format!("{base}:2,{letters}"))).expect("renaming a local message");
}

/// Seconds since the epoch of an IMAP date-time `dd-Mon-yyyy hh:mm:ss +zzzz`.
fn internaldate_secs(text: &str) -> Option<i64> {
    let (date, rest) = text.trim().split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let mut date = date.split('-');
    let day: i64 = date.next()?.trim().parse().ok()?;
    let month = date.next()?;
    let year: i64 = date.next()?.parse().ok()?;
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    // Days from 1970-01-01 (the proleptic Gregorian calendar).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut hms = time.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (hms.next()??, hms.next()??, hms.next()??);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let z: i64 = zone.get(1..)?.parse().ok()?;
    let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// A populated account (INBOX, Work, Projects.Alpha, Drafts with flagged,
/// seen, answered and draft messages; a bare-LF message another delivery
/// agent dropped into the Maildir) synced to an empty local Maildir; then
/// flags changed on both sides, a local delete, a local new message with
/// its arrival time, a new local folder; a second sync carries each change
/// across; a third sends no changing command and changes neither side.
#[test]
fn mbsync_two_way_sync_of_a_populated_account_then_a_sync_that_changes_nothing() {
    if !require_program(
        "mbsync",
        "mbsync_two_way_sync_of_a_populated_account_then_a_sync_that_changes_nothing",
    ) {
        return;
    }
    let dir = TestDir::new();
    let (server, ports) = Server::start_prebound(&dir, &[("imap", "plain"), ("imaps", "tls")], "");
    server.add_user(USER, PASS);
    let cert = printed_certificate(&server);

    // --- the account as a mail client and a delivery agent left it ---
    let mut originals = BTreeMap::new();
    let mut c = server.login(USER, PASS);
    c.ok("CREATE Work");
    c.ok("CREATE Projects.Alpha");
    let appended: &[(&str, &str, usize, &[&str])] = &[
        ("INBOX", "i1", 1_800, &["\\Seen"]),
        ("INBOX", "i2", 250_000, &["\\Seen", "\\Flagged"]),
        ("INBOX", "i3", 4_000, &[]),
        ("INBOX", "i4", 2_500, &["\\Answered", "\\Seen"]),
        ("Work", "w1", 9_000, &["\\Seen"]),
        ("Work", "w2", 1_200, &[]),
        ("Projects.Alpha", "p1", 3_000, &["\\Flagged"]),
        ("Drafts", "d1", 900, &["\\Draft", "\\Seen"]),
    ];
    for (mailbox, id, size, fl) in appended {
        let bytes = make_message(id, *size);
        let r = c.append(mailbox, fl, &bytes).expect("APPEND");
        assert!(r.is_ok(), "APPEND {id} to {mailbox}: {r:?}");
        originals.insert(format!("{id}@mailkeep.test"), bytes);
    }
    // Mail another delivery agent dropped in, with bare LF line ends.
    let lf_message = to_lf(&make_message("i5", 3_000));
    let server_maildir = dir.maildir(USER);
    let lf_file = deliver(&server_maildir, "1764000000.M1P1.deliverer", &lf_message);
    originals.insert("i5@mailkeep.test".to_owned(), lf_message.clone());

    // --- the first sync: everything to an empty local Maildir ---
    let mbsync = Mbsync::setup(dir.path(), ports["imaps"], &cert, (USER, PASS), "PLAIN");
    let first = mbsync.run();
    assert_ran(&first, "the first", &server);
    let mut expected = flags(&[
        (
            "INBOX",
            &[
                ("i1", &["\\Seen"]),
                ("i2", &["\\Seen", "\\Flagged"]),
                ("i3", &[]),
                ("i4", &["\\Answered", "\\Seen"]),
                ("i5", &[]),
            ],
        ),
        ("Work", &[("w1", &["\\Seen"]), ("w2", &[])]),
        ("Projects.Alpha", &[("p1", &["\\Flagged"])]),
        ("Drafts", &[("d1", &["\\Draft", "\\Seen"])]),
        ("Sent", &[]),
        ("Trash", &[]),
        ("Junk", &[]),
    ]);
    let server_side = read_server(&mut c);
    let local_side = read_local(&mbsync.local);
    // `Projects` exists only as Projects.Alpha's parent (\Noselect): a
    // mailbox on neither side.
    assert_sides(
        "after the first sync",
        &server_side,
        &local_side,
        &expected,
        &originals,
        &first.log,
    );

    // --- changes on both sides ---
    c.ok("SELECT INBOX");
    let i3 = uid_of(&mut c, "i3@mailkeep.test");
    c.ok(&format!("UID STORE {i3} +FLAGS (\\Flagged)"));
    let i1 = uid_of(&mut c, "i1@mailkeep.test");
    c.ok(&format!("UID STORE {i1} -FLAGS (\\Seen)"));
    c.ok("SELECT Work");
    let w2 = uid_of(&mut c, "w2@mailkeep.test");
    c.ok(&format!("UID STORE {w2} +FLAGS (\\Seen)"));
    c.ok("UNSELECT");

    let inbox = mbsync.local.join("INBOX");
    let work = mbsync.local.join("Work");
    set_local_letters(&local_file(&inbox, "i2"), "FRS");
    set_local_letters(&local_file(&inbox, "i5"), "S");
    set_local_letters(&local_file(&work, "w1"), "");
    fs::remove_file(local_file(&inbox, "i4")).expect("deleting a local message");
    originals.remove("i4@mailkeep.test");
    // A message the local client saved (bare LF, as Maildir files are),
    // with an arrival time mbsync carries over (CopyArrivalDate).
    let n1 = to_lf(&make_message("n1", 5_000));
    let n1_file = inbox.join("cur/1764100000.M7P7.laptop:2,S");
    fs::write(&n1_file, &n1).expect("writing a local message");
    let arrived = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_294_400); // 2024-03-01 12:00 UTC
    fs::File::options()
        .write(true)
        .open(&n1_file)
        .and_then(|f| f.set_modified(arrived))
        .expect("setting the arrival time");
    originals.insert("n1@mailkeep.test".to_owned(), n1);
    // A new local folder with one message.
    let archive = mbsync.local.join("Archive");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(archive.join(sub)).expect("making a local folder");
    }
    let a1 = to_lf(&make_message("a1", 2_000));
    fs::write(archive.join("cur/1764100001.M8P8.laptop:2,FS"), &a1).expect("writing");
    originals.insert("a1@mailkeep.test".to_owned(), a1);

    // --- the second sync: both sides' changes cross ---
    let second = mbsync.run();
    assert_ran(&second, "the second", &server);
    // Mailboxes named here replace what the first sync left.
    expected.extend(flags(&[
        (
            "INBOX",
            &[
                ("i1", &[]),
                ("i2", &["\\Answered", "\\Flagged", "\\Seen"]),
                ("i3", &["\\Flagged"]),
                ("i5", &["\\Seen"]),
                ("n1", &["\\Seen"]),
            ],
        ),
        ("Work", &[("w1", &[]), ("w2", &["\\Seen"])]),
        ("Archive", &[("a1", &["\\Flagged", "\\Seen"])]),
    ]));
    let server_side = read_server(&mut c);
    let local_side = read_local(&mbsync.local);
    assert_sides(
        "after the second sync",
        &server_side,
        &local_side,
        &expected,
        &originals,
        &second.log,
    );
    // The local message's arrival time became its INTERNALDATE.
    c.ok("EXAMINE INBOX");
    let n1_uid = uid_of(&mut c, "n1@mailkeep.test");
    let r = c.ok(&format!("UID FETCH {n1_uid} (INTERNALDATE)"));
    let date = r.fetches()[0]
        .item("INTERNALDATE")
        .and_then(|v| v.text())
        .unwrap_or_else(|| panic!("no INTERNALDATE: {r:?}"));
    assert_eq!(
        internaldate_secs(&date),
        Some(1_709_294_400),
        "INTERNALDATE {date:?} of the message mbsync appended with its arrival time\n{}",
        second.log
    );
    c.ok("UNSELECT");
    // The delivered file was not rewritten (only renamed for its flags).
    let on_disk = sides::files_in(&server_maildir.join("cur"))
        .into_iter()
        .chain(sides::files_in(&server_maildir.join("new")))
        .find(|(name, _)| name.starts_with(&lf_file))
        .unwrap_or_else(|| panic!("the delivered file {lf_file} is gone from the Maildir"));
    assert_eq!(on_disk.1, lf_message, "the delivered file keeps its bytes");

    // --- the third sync: nothing to do ---
    let local_before = sides::local_files(&mbsync.local);
    let server_before = sides::server_state(&mut c);
    let third = mbsync.run();
    assert_ran(&third, "the third", &server);
    let changing: Vec<String> = third
        .commands()
        .into_iter()
        .filter(|cmd| {
            let verb = cmd.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            let verb = verb.to_ascii_uppercase();
            [
                "APPEND", "STORE", "EXPUNGE", "CREATE", "DELETE", "RENAME", "COPY", "MOVE",
            ]
            .iter()
            .any(|v| verb.starts_with(v) || verb.starts_with(&format!("UID {v}")))
        })
        .collect();
    assert!(
        changing.is_empty(),
        "the third sync sent changing commands {changing:?}\n{}",
        third.log
    );
    assert!(
        !third.commands().is_empty(),
        "the log shows the IMAP exchange (mbsync -Dn)\n{}",
        third.log
    );
    assert_eq!(
        sides::server_state(&mut c),
        server_before,
        "the third sync changed the server\n{}",
        third.log
    );
    let local_after = sides::local_files(&mbsync.local);
    let mail_only = |files: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .filter(|(path, _)| path.contains("/cur/") || path.contains("/new/"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect()
    };
    assert_eq!(
        mail_only(&local_after),
        mail_only(&local_before),
        "the third sync changed the local mail files\n{}",
        third.log
    );
    c.logout();
}

/// A real SASL library's SCRAM client (Cyrus SASL, through mbsync) logs in
/// to an account whose password is stored as SCRAM-SHA-256, over implicit
/// TLS, and lists the account's mailboxes.
#[test]
fn mbsync_logs_in_with_cyrus_sasl_scram_sha_256() {
    if !require_program("mbsync", "mbsync_logs_in_with_cyrus_sasl_scram_sha_256") {
        return;
    }
    let dir = TestDir::new();
    let (server, ports) = Server::start_prebound(&dir, &[("imap", "plain"), ("imaps", "tls")], "");
    crate::harness::run_user_cmd(
        &server.config,
        &["add", USER, "--scheme", "SCRAM-SHA-256"],
        Some(PASS),
    );
    let cert = printed_certificate(&server);
    let mbsync = Mbsync::setup(
        dir.path(),
        ports["imaps"],
        &cert,
        (USER, PASS),
        "SCRAM-SHA-256",
    );
    let listed = mbsync.list();
    assert_ran(&listed, "the listing", &server);
    assert!(
        listed
            .commands()
            .iter()
            .any(|c| c.starts_with("AUTHENTICATE SCRAM-SHA-256")),
        "mbsync authenticated with SCRAM-SHA-256\n{}",
        listed.log
    );
    let stdout = listed
        .log
        .split("--- mbsync stderr ---")
        .next()
        .unwrap_or_default();
    let mut names: Vec<&str> = stdout
        .lines()
        .filter(|l| ["INBOX", "Drafts", "Sent", "Trash", "Junk"].contains(l))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["Drafts", "INBOX", "Junk", "Sent", "Trash"],
        "mbsync lists the account's mailboxes\n{}",
        listed.log
    );
}
