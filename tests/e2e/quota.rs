//! The quota plugin end to end (issue 11): the real binary with
//! `[plugins] enabled = ["quota"]`, limits from the users file in
//! Dovecot's syntax; RFC 9208 over IMAP (our client and Python's imaplib),
//! refusals on APPEND, COPY and delivery (IMAP `NO [OVERQUOTA]`, LMTP
//! `552 5.2.2` or `452 4.2.2`, `mailkeep deliver` 77 or 75), and usage
//! that stays exact across SIGKILLs and files dropped in from outside.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Output};

use crate::harness::{
    BIN, DEADLINE, Options, Server, TestDir, require_root, run_deliver, run_python,
};
use mailkeep_testkit::{BlockingClient, Listeners, Reply};

const PASS: &str = "quota-secret-11";

/// A server running the quota plugin (`admins = ["alice"]`, LMTP over
/// quota tempfails when `tempfail`), users alice and bob; alice's entry
/// carries `rules` as userdb_quota_rule fields.
fn start<'a>(dir: &'a TestDir, rules: &[&str], tempfail: bool) -> Server<'a> {
    start_with(dir, rules, tempfail, "")
}

/// [`start`] with `extra` lines in `[plugins.quota]`.
fn start_with<'a>(dir: &'a TestDir, rules: &[&str], tempfail: bool, extra: &str) -> Server<'a> {
    let mut listeners = Listeners::new();
    for name in ["imap", "lmtp-quota-status"] {
        listeners
            .bind(name, std::net::Ipv4Addr::LOCALHOST.into())
            .expect("binding");
    }
    let options = Options {
        extra_imap: format!(
            "\n[plugins]\nenabled = [\"quota\"]\n\n[plugins.quota]\nadmins = [\"alice\"]\n\
             full_tempfail = {tempfail}\nstatus_listener = \"lmtp-quota-status\"\n{extra}\n"
        ),
        ..Options::default()
    };
    let server = Server::start_opts(dir, options, listeners);
    server.add_user("alice", PASS);
    server.add_user("bob", PASS);
    add_extra_fields(dir, "alice", rules);
    server
}

/// Appends `userdb_quota_rule[N]=RULE` fields to `user`'s users-file line.
fn add_extra_fields(dir: &TestDir, user: &str, rules: &[&str]) {
    let path = dir.users_file();
    let text = std::fs::read_to_string(&path).expect("users file");
    let fields: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, rule)| match i {
            0 => format!("userdb_quota_rule={rule}"),
            n => format!("userdb_quota_rule{}={rule}", n + 1),
        })
        .collect();
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if !line.starts_with(&format!("{user}:")) || fields.is_empty() {
                return line.to_owned();
            }
            let parts: Vec<&str> = line.splitn(8, ':').collect();
            let mut out: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
            out.resize(8, String::new());
            let extra = out[7].trim().to_owned();
            out[7] = if extra.is_empty() {
                fields.join(" ")
            } else {
                format!("{extra} {}", fields.join(" "))
            };
            out.join(":")
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").expect("writing the users file");
}

fn message(size: usize) -> Vec<u8> {
    let mut m = b"Subject: quota\r\n\r\n".to_vec();
    while m.len() + 2 < size {
        m.push(b'x');
    }
    m.extend_from_slice(b"\r\n");
    m
}

/// The raw text of every untagged response of `reply`.
fn untagged(reply: &Reply) -> Vec<String> {
    reply
        .responses
        .iter()
        .map(|r| String::from_utf8_lossy(r.raw()).trim_end().to_owned())
        .collect()
}

fn run(c: &mut BlockingClient, command: &str) -> Reply {
    c.run(command).unwrap_or_else(|e| panic!("{command}: {e}"))
}

/// RFC 9208 through a real socket: the capabilities, GETQUOTAROOT and
/// GETQUOTA with the userdb limits (STORAGE in 1024-octet units), APPEND
/// and COPY refused with `NO [OVERQUOTA]` storing nothing, MOVE allowed
/// (one root: usage does not change), SETQUOTA for a quota admin only,
/// STATUS DELETED and DELETED-STORAGE, and bad arguments answered BAD.
#[test]
fn quota_rfc9208_over_imap() {
    let dir = TestDir::new();
    let server = start(&dir, &["*:storage=4", "*:messages=10"], false);
    let mut c = server.login("alice", PASS);
    let caps = run(&mut c, "CAPABILITY").capabilities();
    for cap in [
        "QUOTA",
        "QUOTA=RES-STORAGE",
        "QUOTA=RES-MESSAGE",
        "QUOTASET",
    ] {
        assert!(caps.iter().any(|c| c == cap), "{cap} missing from {caps:?}");
    }
    assert!(
        c.append("INBOX", &[], &message(1500))
            .expect("APPEND")
            .is_ok(),
        "{}",
        server.logs()
    );
    assert!(
        c.append("INBOX", &[], &message(1500))
            .expect("APPEND")
            .is_ok()
    );

    let root = run(&mut c, "GETQUOTAROOT inbox");
    assert!(root.is_ok(), "{root:?}");
    assert_eq!(
        untagged(&root),
        vec![
            "* QUOTAROOT INBOX \"\"".to_owned(),
            "* QUOTA \"\" (STORAGE 2 4 MESSAGE 2 10)".to_owned()
        ]
    );
    let quota = run(&mut c, "GETQUOTA \"\"");
    assert!(quota.is_ok());
    assert_eq!(
        untagged(&quota),
        vec!["* QUOTA \"\" (STORAGE 2 4 MESSAGE 2 10)".to_owned()]
    );
    assert!(run(&mut c, "GETQUOTA \"user.bob\"").has_code("NONEXISTENT"));
    assert!(!run(&mut c, "GETQUOTAROOT Nope").is_ok());

    // 3000 + 1500 > 4096: refused, typed end to end, nothing stored.
    let over = c.append("INBOX", &[], &message(1500)).expect("APPEND");
    assert!(over.has_code("OVERQUOTA"), "{over:?}");
    assert!(run(&mut c, "CREATE Archive").is_ok());
    assert!(run(&mut c, "SELECT INBOX").is_ok());
    let copy = run(&mut c, "COPY 1:2 Archive");
    assert!(copy.has_code("OVERQUOTA"), "{copy:?}");
    let moved = run(&mut c, "MOVE 2 Archive");
    assert!(moved.is_ok(), "MOVE stays in the root: {moved:?}");
    let status = run(&mut c, "STATUS Archive (MESSAGES)");
    assert_eq!(status.status_item("MESSAGES"), Some(1));
    assert_eq!(
        untagged(&run(&mut c, "GETQUOTA \"\"")),
        vec!["* QUOTA \"\" (STORAGE 2 4 MESSAGE 2 10)".to_owned()]
    );

    // STATUS DELETED / DELETED-STORAGE.
    assert!(run(&mut c, "STORE 1 +FLAGS.SILENT (\\Deleted)").is_ok());
    let status = run(&mut c, "STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)");
    assert_eq!(status.status_item("DELETED"), Some(1));
    assert_eq!(status.status_item("DELETED-STORAGE"), Some(1));

    // A quota admin raises the limit: the override wins over the userdb
    // rule, and the refused APPEND now fits.
    let set = run(&mut c, "SETQUOTA \"\" (STORAGE 100 MESSAGE 50)");
    assert!(set.is_ok(), "{set:?}");
    assert_eq!(
        untagged(&set),
        vec!["* QUOTA \"\" (STORAGE 2 100 MESSAGE 2 50)".to_owned()]
    );
    assert!(
        c.append("INBOX", &[], &message(1500))
            .expect("APPEND")
            .is_ok()
    );

    // Bad arguments: BAD, and the session goes on.
    for bad in [
        "GETQUOTA",
        "GETQUOTAROOT",
        "SETQUOTA \"\" (STORAGE lots)",
        "SETQUOTA \"\" STORAGE",
    ] {
        let r = run(&mut c, bad);
        assert_eq!(r.status(), mailkeep_testkit::Status::Bad, "{bad}: {r:?}");
    }
    assert!(run(&mut c, "SETQUOTA \"\" (WIDGETS 1)").code().is_some());
    assert!(run(&mut c, "NOOP").is_ok());
    c.logout();

    // bob is no quota admin; he has no limits (no root to show).
    let mut b = server.login("bob", PASS);
    assert!(run(&mut b, "SETQUOTA \"\" (STORAGE 1)").has_code("NOPERM"));
    let root = run(&mut b, "GETQUOTAROOT INBOX");
    assert!(root.is_ok());
    assert_eq!(untagged(&root), vec!["* QUOTAROOT INBOX".to_owned()]);
    b.logout();
}

/// Python's imaplib speaks RFC 9208 with the server: getquotaroot,
/// getquota, setquota, and an over-quota append refused with OVERQUOTA.
#[test]
fn imaplib_quota_commands() {
    let dir = TestDir::new();
    let server = start(&dir, &["*:storage=2", "*:messages=100"], false);
    let out = run_python(
        "imap_quota.py",
        &[
            ("MK_HOST", "127.0.0.1".to_owned()),
            ("MK_PORT", server.port.to_string()),
            ("MK_USER", "alice".to_owned()),
            ("MK_PASS", PASS.to_owned()),
        ],
        "imap_quota: all checks passed",
        DEADLINE,
    );
    assert!(out.contains("all checks passed"), "{out}");
}

/// One LMTP conversation over the UNIX socket: the DATA reply for `user`.
fn lmtp_deliver(dir: &TestDir, user: &str, body: &[u8]) -> String {
    let stream = UnixStream::connect(dir.data_dir().join("lmtp.sock")).expect("lmtp socket");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut line = || {
        let mut l = String::new();
        reader.read_line(&mut l).expect("reading a reply");
        l
    };
    assert!(line().starts_with("220"));
    writer.write_all(b"LHLO test\r\n").expect("LHLO");
    while !line().starts_with("250 ") {}
    writer
        .write_all(format!("MAIL FROM:<s@example.net>\r\nRCPT TO:<{user}>\r\nDATA\r\n").as_bytes())
        .expect("envelope");
    assert!(line().starts_with("250"));
    assert!(line().starts_with("250"));
    assert!(line().starts_with("354"));
    writer.write_all(body).expect("body");
    writer.write_all(b".\r\n").expect("end");
    line()
}

fn deliver_cli(server: &Server<'_>, user: &str, body: &[u8]) -> (Option<i32>, String) {
    run_deliver(&server.config, &["-u", user], body)
}

/// Delivery over quota: LMTP `552 5.2.2` and `mailkeep deliver` exit 77
/// by default; a delivery that fits still goes in.
#[test]
fn delivery_over_quota_is_refused_552_and_deliver_exits_77() {
    let dir = TestDir::new();
    let server = start(&dir, &["*:bytes=3000"], false);
    // bob first: his storage process then learns alice's rules as the
    // second owner it serves (the broker's AddOwner), not from its start.
    assert!(lmtp_deliver(&dir, "bob", &message(2500)).starts_with("250"));
    let fits = lmtp_deliver(&dir, "alice", &message(1000));
    assert!(fits.starts_with("250"), "{fits}\n{}", server.logs());
    let reply = lmtp_deliver(&dir, "alice", &message(2500));
    assert!(reply.starts_with("552 5.2.2"), "{reply}");
    let (code, stderr) = deliver_cli(&server, "alice", &message(2500));
    assert_eq!(code, Some(77), "{stderr}");
    // bob has no limit.
    assert!(lmtp_deliver(&dir, "bob", &message(2500)).starts_with("250"));
}

/// With `full_tempfail = true` (Dovecot's quota_full_tempfail) the same
/// refusal is `452 4.2.2` and `mailkeep deliver` exits 75 (try again).
#[test]
fn delivery_over_quota_tempfails_452_when_configured() {
    let dir = TestDir::new();
    let server = start(&dir, &["*:messages=1"], true);
    assert!(lmtp_deliver(&dir, "alice", &message(100)).starts_with("250"));
    let reply = lmtp_deliver(&dir, "alice", &message(100));
    assert!(reply.starts_with("452 4.2.2"), "{reply}");
    let (code, stderr) = deliver_cli(&server, "alice", &message(100));
    assert_eq!(code, Some(75), "{stderr}");
}

/// Postfix's policy protocol (Dovecot's quota-status) on the lmtp
/// process's `lmtp-quota-status` listener: OK while a message of `size`
/// fits, `552 5.2.2` once it would not, `REJECT` for an unknown user, an
/// absent recipient left to other checks; several requests on one
/// connection, as Postfix keeps it open.
#[test]
fn quota_status_policy_service_answers_postfix() {
    let dir = TestDir::new();
    let server = start(&dir, &["*:bytes=3000"], false);
    assert!(lmtp_deliver(&dir, "alice", &message(1000)).starts_with("250"));
    let stream =
        std::net::TcpStream::connect(server.listener("lmtp-quota-status")).expect("policy service");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut ask = |attributes: &str| {
        writer
            .write_all(format!("request=smtpd_access_policy\n{attributes}\n").as_bytes())
            .expect("request");
        let mut action = String::new();
        if let Err(e) = reader.read_line(&mut action) {
            panic!("no action: {e}\n{}", server.logs());
        }
        let mut blank = String::new();
        reader.read_line(&mut blank).expect("blank line");
        assert_eq!(blank, "\n");
        action.trim_end().to_owned()
    };
    assert_eq!(ask("recipient=alice@example.org\nsize=1500\n"), "action=OK");
    assert_eq!(
        ask("recipient=alice@example.org\nsize=2500\n"),
        "action=552 5.2.2 Mailbox is full"
    );
    assert_eq!(ask("recipient=bob\nsize=2500\n"), "action=OK");
    assert_eq!(
        ask("recipient=nobody@example.org\nsize=1\n"),
        "action=REJECT Unknown user"
    );
    assert_eq!(ask("sender=x@example.net\n"), "action=DUNNO");
    // A line longer than a request may hold closes that connection only.
    let mut long =
        std::net::TcpStream::connect(server.listener("lmtp-quota-status")).expect("policy service");
    long.set_read_timeout(Some(DEADLINE)).expect("timeout");
    long.write_all(&vec![b'a'; 9000]).expect("long line");
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut long, &mut rest).expect("closed");
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(ask("recipient=alice@example.org\nsize=1\n"), "action=OK");
}

/// With `warnings = [50]`, the delivery that takes usage past half the
/// limit brings a warning into the INBOX, once.
#[test]
fn a_quota_warning_arrives_when_usage_crosses_the_percentage() {
    let dir = TestDir::new();
    let server = start_with(&dir, &["*:bytes=8000"], false, "warnings = [50]");
    assert!(lmtp_deliver(&dir, "alice", &message(1000)).starts_with("250"));
    assert!(lmtp_deliver(&dir, "alice", &message(3500)).starts_with("250"));
    assert!(lmtp_deliver(&dir, "alice", &message(500)).starts_with("250"));
    let mut c = server.login("alice", PASS);
    assert!(run(&mut c, "SELECT INBOX").is_ok());
    let subjects = run(&mut c, "FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    let warnings = subjects
        .fetches()
        .iter()
        .filter(|f| {
            f.bytes("BODY[HEADER.FIELDS (SUBJECT)]")
                .is_some_and(|b| String::from_utf8_lossy(b).contains("Quota warning: 50%"))
        })
        .count();
    assert_eq!(warnings, 1, "{subjects:?}");
    assert_eq!(subjects.fetches().len(), 4);
}

fn admin_quota(server: &Server<'_>, action: &str, user: &str) -> Output {
    Command::new(BIN)
        .args(["admin", "quota", action, user, "--config"])
        .arg(&server.config)
        .output()
        .expect("running mailkeep admin quota")
}

fn usage_line(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Usage stays exact across crashes and outside changes: appends run
/// while the owner's storage process is SIGKILLed (three times, each with
/// an APPEND half streamed on a second connection), then a message
/// file is dropped into the Maildir by another program; `admin quota get`
/// then equals `admin quota recalc`, and both count every file.
#[test]
fn quota_get_equals_recalc_after_sigkill_and_a_file_from_outside() {
    let dir = TestDir::new();
    let server = start(&dir, &["*:storage=1G"], false);
    let mut c = server.login("alice", PASS);
    let mut k = server.login("alice", PASS);
    let mut killed = 0;
    let mut stored = 0;
    for round in 0..30 {
        if round % 10 == 5 {
            // Kill with an APPEND half sent on the other connection.
            let body = message(200_000);
            let tag = k
                .send_command(&format!("APPEND INBOX {{{}}}", body.len()))
                .expect("APPEND");
            let cont = k.read_response().expect("continuation");
            assert!(cont.continuation().is_some(), "{cont:?}");
            k.send_raw(&body[..body.len() / 2]).expect("first half");
            let storage = server.wait_role("storage", Some("alice"), None);
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(storage.pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .expect("SIGKILL");
            killed += 1;
            k.send_raw(&body[body.len() / 2..]).expect("second half");
            k.send_raw(b"\r\n").expect("CRLF");
            let reply = k.read_reply(&tag).expect("APPEND reply");
            assert!(reply.is_ok() || reply.has_code("UNAVAILABLE"), "{reply:?}");
        }
        // The call that finds its process gone is refused as unavailable
        // (the client may try again); the next gets a new process.
        let reply = c
            .append("INBOX", &[], &message(700 + round))
            .expect("APPEND");
        if reply.is_ok() {
            stored += 1;
        } else {
            assert!(reply.has_code("UNAVAILABLE"), "{reply:?}");
        }
    }
    assert_eq!(killed, 3);
    assert!(stored > 0);
    c.logout();
    k.logout();
    let maildir = dir.maildir("alice");
    let dropped = b"Subject: from outside\r\n\r\nprocmail put me here\r\n";
    std::fs::write(maildir.join("new/1700000000.M1P1.outside"), dropped).expect("dropping");
    let get = usage_line(&admin_quota(&server, "get", "alice"));
    let recalc = usage_line(&admin_quota(&server, "recalc", "alice"));
    assert_eq!(get, recalc);
    let files = ["cur", "new"]
        .iter()
        .map(|d| std::fs::read_dir(maildir.join(d)).expect("dir").count())
        .sum::<usize>();
    assert!(
        get.contains(&format!(" messages={files} ")),
        "{get} vs {files} files"
    );
    assert!(get.contains("storage_limit=1073741824"), "{get}");
    // The running server agrees: GETQUOTA reports the same usage.
    let bytes: u64 = get
        .split(' ')
        .find_map(|f| f.strip_prefix("bytes="))
        .and_then(|n| n.parse().ok())
        .expect("bytes= in the get line");
    let mut c = server.login("alice", PASS);
    assert_eq!(
        untagged(&run(&mut c, "GETQUOTA \"\"")),
        vec![format!("* QUOTA \"\" (STORAGE {} 1048576)", bytes / 1024)]
    );
}

/// Across hosts: dora is homed on B and logs in at A. Her quota (B's users
/// file) is enforced by B's storage process and read through B's gateway
/// by A's imap process, plugin service and all: the gateway forwards it
/// like the base services.
#[test]
fn quota_of_a_user_homed_on_another_host_goes_through_the_gateway() {
    if !require_root("quota_of_a_user_homed_on_another_host_goes_through_the_gateway") {
        return;
    }
    let (dir_a, dir_b, admin) = (TestDir::new(), TestDir::new(), TestDir::new());
    let cluster_dir = admin.path().join("cluster");
    let plugins = "\n[plugins]\nenabled = [\"quota\"]\n";
    let (server_a, server_b, _) =
        crate::cluster::two_hosts_configured(&dir_a, &dir_b, &cluster_dir, &[], plugins);
    add_extra_fields(&dir_b, crate::cluster::USER, &["*:bytes=3000"]);
    let mut c = server_a.login(crate::cluster::USER, crate::cluster::PASSWORD);
    let first = c.append("INBOX", &[], &message(2000)).expect("APPEND");
    assert!(
        first.is_ok(),
        "{first:?}\nA: {}\nB: {}",
        server_a.logs(),
        server_b.logs()
    );
    let over = c.append("INBOX", &[], &message(2000)).expect("APPEND");
    assert!(over.has_code("OVERQUOTA"), "{over:?}");
    let root = run(&mut c, "GETQUOTAROOT INBOX");
    assert_eq!(
        untagged(&root),
        vec![
            "* QUOTAROOT INBOX \"\"".to_owned(),
            "* QUOTA \"\" (STORAGE 1 2)".to_owned()
        ]
    );
    c.logout();
    assert_eq!(
        crate::cluster::files_with(&dir_b.maildir(crate::cluster::USER), "xxxx").len(),
        1,
        "the message is on B"
    );
}

/// RFC 9208 on mailboxes shared across uids: alice (uid 5000) grants bob
/// (uid 5001) `lr` on Team. bob's GETQUOTAROOT of `shared.alice.Team`
/// names alice's root, `alice:` (Dovecot's `user:root`), never his own
/// `""`, with alice's usage; GETQUOTA of `alice:` answers the same. Her
/// unshared Private has no root for him, a root of nobody's is none, and
/// his SETQUOTA of her root (he is a quota admin) is refused by her
/// storage process, which leaves her limits as they were.
#[test]
fn quota_roots_of_shared_mailboxes_are_their_owners() {
    if !require_root("quota_roots_of_shared_mailboxes_are_their_owners") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        "\n[storage]\nmode = \"per-uid\"\n\n[plugins]\nenabled = [\"quota\"]\n\n\
         [plugins.quota]\nadmins = [\"bob\"]\nstorage = \"1M\"\nmessages = 100\n",
    );
    server.add_user("alice", PASS);
    crate::harness::run_user_cmd(
        &server.config,
        &["add", "bob", "--uid", "5001", "--gid", "5001"],
        Some(PASS),
    );
    let mut a = server.login("alice", PASS);
    for mailbox in ["Team", "Private"] {
        run(&mut a, &format!("CREATE {mailbox}"));
        let r = a.append(mailbox, &[], &message(3000)).expect("APPEND");
        assert!(r.is_ok(), "{r:?}");
    }
    a.logout();
    crate::sharing::admin_acl(&server, &["set", "alice", "Team", "bob", "lr"]);

    let alice_line = "* QUOTA alice: (STORAGE 5 1024 MESSAGE 2 100)".to_owned();
    let mut b = server.login("bob", PASS);
    let root = run(&mut b, "GETQUOTAROOT shared.alice.Team");
    assert!(root.is_ok(), "{root:?}");
    assert_eq!(
        untagged(&root),
        vec![
            "* QUOTAROOT shared.alice.Team alice:".to_owned(),
            alice_line.clone()
        ]
    );
    let quota = run(&mut b, "GETQUOTA alice:");
    assert!(quota.is_ok(), "{quota:?}");
    assert_eq!(untagged(&quota), vec![alice_line.clone()]);
    // His own root is his own.
    let own = run(&mut b, "GETQUOTAROOT INBOX");
    assert_eq!(
        untagged(&own),
        vec![
            "* QUOTAROOT INBOX \"\"".to_owned(),
            "* QUOTA \"\" (STORAGE 0 1024 MESSAGE 0 100)".to_owned()
        ]
    );
    for refused in [
        "GETQUOTAROOT shared.alice.Private",
        "GETQUOTAROOT shared.alice.Nope",
        "GETQUOTA nobody:",
    ] {
        let r = run(&mut b, refused);
        assert!(r.has_code("NONEXISTENT"), "{refused}: {r:?}");
    }
    let set = run(&mut b, "SETQUOTA alice: (STORAGE 1)");
    assert!(set.has_code("NOPERM"), "{set:?}");
    assert_eq!(untagged(&run(&mut b, "GETQUOTA alice:")), vec![alice_line]);
    b.logout();
}
