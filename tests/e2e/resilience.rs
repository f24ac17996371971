//! Processes dying and being stopped: the master restarts what dies,
//! nothing acknowledged is lost, and SIGTERM stops everything.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailkeep_testkit::BlockingClient;
use nix::sys::signal::Signal;

use crate::harness::{
    NOBODY_UID, ProcInfo, Server, TestDir, alive, children_of, make_message, require_root, signal,
    wait_until,
};

const USER: &str = "alice";
const PASS: &str = "alice-secret-5";

/// Connects and logs in, or returns why not.
fn try_login(server: &Server<'_>) -> Result<BlockingClient, String> {
    let mut c = server.try_connect().map_err(|e| format!("connect: {e}"))?;
    let r = c.login(USER, PASS).map_err(|e| format!("LOGIN: {e}"))?;
    if r.is_ok() {
        Ok(c)
    } else {
        Err(format!("LOGIN refused: {:?}", r.tagged))
    }
}

/// One acknowledged APPEND.
struct Acked {
    id: String,
    uidvalidity: u32,
    uid: u32,
    bytes: Vec<u8>,
}

/// Killing the user's storage process (SIGKILL) in the middle of a stream
/// of APPENDs loses nothing that was acknowledged: every message whose
/// APPEND got `OK [APPENDUID v uid]` is afterwards found under that UID
/// (and UIDVALIDITY) with identical bytes, identified by its unique
/// Message-ID. Around the kill, commands may fail (NO) or the connection
/// may drop; the client reconnects, and later APPENDs succeed through a
/// new storage process (a different pid).
#[test]
fn kill_storage_during_appends() {
    if !require_root("kill_storage_during_appends") {
        return;
    }
    const BEFORE_KILL: usize = 20;
    const TOTAL: usize = 60;
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);

    // The killer waits for BEFORE_KILL acknowledged appends (one message
    // on `acks` each), then kills the storage process while the appender
    // goes on.
    let (ack, acks) = mpsc::channel::<()>();
    let killed = Arc::new(AtomicBool::new(false));
    let master = server.pid();
    let killer = {
        let killed = Arc::clone(&killed);
        std::thread::spawn(move || -> Result<i32, String> {
            for seen in 0..BEFORE_KILL {
                acks.recv_timeout(Duration::from_secs(120))
                    .map_err(|e| format!("only {seen} appends acknowledged ({e})"))?;
            }
            let storage: Vec<_> = children_of(master)
                .into_iter()
                .filter(|p| p.role() == Some("storage") && p.flag("--owner") == Some(USER))
                .collect();
            let [victim] = storage.as_slice() else {
                return Err(format!(
                    "expected one storage process for {USER}, found {storage:?}"
                ));
            };
            // Marked first: the appender may see the failure before this
            // thread runs again after the signal.
            killed.store(true, Ordering::SeqCst);
            signal(victim.pid, Signal::SIGKILL);
            Ok(victim.pid)
        })
    };

    let mut acked: Vec<Acked> = Vec::new();
    let mut outcomes: Vec<String> = Vec::new();
    let mut failures_after_kill = 0usize;
    let mut conn: Option<BlockingClient> = None;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut i = 0usize;
    let mut failed_logins = 0usize;
    while i < TOTAL {
        assert!(
            Instant::now() < deadline,
            "appends did not finish in time; outcomes so far: {outcomes:?}"
        );
        let after_kill = killed.load(Ordering::SeqCst);
        let c = match conn.as_mut() {
            Some(c) => c,
            // A new connection at once: the imap process was not killed, so
            // a login that fails is a finding, and a few in a row fail the
            // test instead of being waited out.
            None => match try_login(&server) {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    failed_logins += 1;
                    assert!(failed_logins < 5, "{e}; outcomes so far: {outcomes:?}");
                    outcomes.push(format!("reconnect failed: {e}"));
                    continue;
                }
            },
        };
        let id = format!("kill-storage-{i:03}");
        // 16 KB to about 400 KB, so that the kill often lands mid-append.
        let bytes = make_message(&id, 16 * 1024 + (i * 37 % 11) * 38 * 1024);
        match c.append("INBOX", &[], &bytes) {
            Ok(r) if r.is_ok() => {
                failed_logins = 0;
                let (uidvalidity, uid) = r
                    .appenduid()
                    .unwrap_or_else(|| panic!("APPEND OK without APPENDUID: {r:?}"));
                outcomes.push(format!("{id}: OK uid {uid}"));
                acked.push(Acked {
                    id,
                    uidvalidity,
                    uid,
                    bytes,
                });
                // The killer has gone once it has seen enough.
                let _ = ack.send(());
            }
            Ok(r) => {
                outcomes.push(format!("{id}: {:?}", r.tagged));
                assert!(
                    after_kill || killed.load(Ordering::SeqCst),
                    "APPEND failed before the kill: {r:?}"
                );
                failures_after_kill += 1;
            }
            Err(e) => {
                outcomes.push(format!("{id}: connection error {e}"));
                assert!(
                    after_kill || killed.load(Ordering::SeqCst),
                    "connection failed before the kill: {e}"
                );
                failures_after_kill += 1;
                conn = None;
            }
        }
        i += 1;
    }
    let victim = killer
        .join()
        .expect("the killer thread panicked")
        .unwrap_or_else(|e| panic!("the killer failed: {e}"));
    println!("outcomes:\n{}", outcomes.join("\n"));

    // The old storage process is gone; a new one serves alice.
    wait_until(
        Duration::from_secs(10),
        "the killed storage process to go",
        || (!alive(victim)).then_some(()),
    );
    let new_storage = server.wait_role("storage", Some(USER), Some(victim));
    assert_ne!(new_storage.pid, victim);

    // Only a few failures, and the tail all succeeded.
    assert!(
        failures_after_kill <= 5,
        "{failures_after_kill} appends failed after the kill:\n{}",
        outcomes.join("\n")
    );
    let tail_ok = outcomes
        .iter()
        .rev()
        .take(20)
        .all(|o| o.contains(": OK uid "));
    assert!(
        tail_ok,
        "the last 20 appends did not all succeed:\n{}",
        outcomes.join("\n")
    );

    // Acknowledged UIDs: one UIDVALIDITY, strictly increasing.
    let uidvalidity = acked[0].uidvalidity;
    assert!(
        acked.iter().all(|a| a.uidvalidity == uidvalidity),
        "UIDVALIDITY changed"
    );
    assert!(
        acked.windows(2).all(|w| w[0].uid < w[1].uid),
        "acknowledged UIDs are not increasing: {:?}",
        acked.iter().map(|a| a.uid).collect::<Vec<_>>()
    );

    // Every acknowledged message is there, byte for byte.
    let mut c = try_login(&server).unwrap_or_else(|e| panic!("{e}\n{}", server.logs()));
    let sel = c.ok("SELECT INBOX");
    assert_eq!(
        sel.code_number("UIDVALIDITY"),
        Some(u64::from(uidvalidity)),
        "UIDVALIDITY after the kill: {sel:?}"
    );
    let f = c.ok("UID FETCH 1:* (UID BODY.PEEK[])");
    let mut by_uid: HashMap<u32, &[u8]> = HashMap::new();
    for r in f.fetches() {
        let uid = r
            .uid()
            .unwrap_or_else(|| panic!("FETCH without UID: {r:?}"));
        let body = r
            .bytes("BODY[]")
            .unwrap_or_else(|| panic!("FETCH without BODY[]: {r:?}"));
        by_uid.insert(uid, body);
    }
    for a in &acked {
        let got = by_uid.get(&a.uid).unwrap_or_else(|| {
            panic!(
                "acknowledged message {} (UID {}) is missing after the kill",
                a.id, a.uid
            )
        });
        let marker = format!("Message-ID: <{}@mailkeep.test>", a.id);
        assert!(
            String::from_utf8_lossy(got).contains(&marker),
            "UID {} holds another message than {}",
            a.uid,
            a.id
        );
        assert!(
            *got == a.bytes.as_slice(),
            "{} (UID {}) differs from what was appended",
            a.id,
            a.uid
        );
    }
    c.logout();
}

/// SIGKILLs the process running `role` and waits, at most 10 s, for the
/// one the master runs in its place; both, the killed one first.
fn kill_and_replace(server: &Server<'_>, role: &str) -> (ProcInfo, ProcInfo) {
    let old = server.wait_role(role, None, None);
    signal(old.pid, Signal::SIGKILL);
    let new = server.wait_role_within(role, None, Some(old.pid), Duration::from_secs(10));
    assert_ne!(new.pid, old.pid, "the {role} process was not replaced");
    (old, new)
}

/// Killing the imap process (SIGKILL) drops its connections, and within
/// 10 s the master runs a new one (another pid, again as nobody) on the
/// same listening socket, through which a new login, SELECT and APPEND
/// work.
#[test]
fn kill_imap_restarts() {
    if !require_root("kill_imap_restarts") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);
    let mut before = server.login(USER, PASS);
    before.ok("SELECT INBOX");

    let (old, new) = kill_and_replace(&server, "imap");
    assert!(
        !alive(old.pid),
        "the killed imap process {} still runs",
        old.pid
    );

    // The old connection went with the old process.
    let dead = before.run("NOOP");
    assert!(
        dead.is_err(),
        "a connection of the killed imap process still answers: {dead:?}"
    );

    let mut c = try_login(&server).unwrap_or_else(|e| panic!("login after the restart: {e}"));
    c.ok("SELECT INBOX");
    let r = c
        .append("INBOX", &[], &make_message("after-imap-restart", 2000))
        .expect("APPEND after the restart");
    assert!(r.is_ok(), "APPEND after the restart: {r:?}");
    c.logout();
    // Checked now that it has served a client: it starts as root and drops
    // privileges before serving.
    assert!(alive(new.pid), "the new imap process {} died", new.pid);
    assert_eq!(
        new.status_numbers("Uid:"),
        vec![NOBODY_UID; 4],
        "the new imap process's uids"
    );
}

/// Killing auth (SIGKILL) costs no more than the logins in flight: the
/// master runs a new auth process, and the imap process, which keeps one
/// connection to auth for all its logins, notices the old one broke (a
/// transport error, not a refusal) and makes a new one, so logins work
/// again through the same imap process. (They once failed with
/// UNAVAILABLE until the imap process itself was restarted.)
#[test]
fn kill_auth_logins_work_again() {
    if !require_root("kill_auth_logins_work_again") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);
    let mut before = server.login(USER, PASS);
    before.ok("SELECT INBOX");
    let imap = server.wait_role("imap", None, None);

    kill_and_replace(&server, "auth");

    // A login right after may be told to try again while the master
    // readies the new auth; one soon works.
    let mut c = wait_until(
        Duration::from_secs(10),
        "a login after auth's restart",
        || try_login(&server).ok(),
    );
    c.ok("SELECT INBOX");
    c.logout();
    // Through the imap process that ran before: its auth link reconnected.
    assert!(alive(imap.pid), "the imap process {} died", imap.pid);
    assert_eq!(server.wait_role("imap", None, None).pid, imap.pid);
    // A session begun before auth died goes on: its ticket is the storage
    // process's business, not auth's.
    before.ok("NOOP");
    before.logout();
}

/// SIGTERM to the master stops everything: the master exits with status 0
/// within 10 s (the harness's stop grace), every child it had (imap, auth and the user's storage
/// process, all seen running first) is gone, no process of ours is left
/// running in a role, and the IMAP port no longer accepts connections.
#[test]
fn sigterm_stops_everything() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir);
    server.add_user(USER, PASS);
    let mut c = server.login(USER, PASS);
    c.ok("SELECT INBOX");
    server.wait_role("storage", Some(USER), None);
    let kids = server.children();
    for role in ["imap", "auth", "storage"] {
        assert!(
            kids.iter().any(|k| k.role() == Some(role)),
            "no {role} process before SIGTERM: {kids:?}"
        );
    }
    let master = server.pid();
    let addr = server.addr;

    // Fails the test unless the master exits within the stop grace.
    let status = server.stop();
    assert_eq!(
        status.code(),
        Some(0),
        "the master exited with {status} after SIGTERM"
    );

    wait_until(Duration::from_secs(2), "every child to be gone", || {
        kids.iter().all(|k| !alive(k.pid)).then_some(())
    });
    assert!(
        children_of(master).is_empty(),
        "the master's pid still has children"
    );
    let data_dir = dir.data_dir().display().to_string();
    let config = server.config.display().to_string();
    let leftovers: Vec<_> = std::fs::read_dir("/proc")
        .expect("reading /proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(crate::harness::proc_info)
        .filter(|p| !p.is_zombie() && p.role().is_some())
        .filter(|p| {
            p.argv
                .iter()
                .any(|a| a.contains(&data_dir) || a.contains(&config))
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "processes left after SIGTERM: {leftovers:?}"
    );

    let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert!(
        refused.is_err(),
        "the IMAP port still accepts connections after the stop"
    );
    drop(c);
}

/// `mailkeep serve >FILE 2>&1` works: with the master's stdout and stderr
/// regular files (inherited by every child), a login, SELECT and APPEND
/// succeed and the imap process is not restarted. (Regression: with
/// RLIMIT_FSIZE 0 on protocol processes, their first log line to an
/// inherited stderr file killed them with SIGXFSZ, and the master
/// restarted them in a loop.)
#[test]
fn serve_with_output_to_files() {
    let dir = TestDir::new();
    let server = Server::start_logging_to_files(&dir);
    server.add_user(USER, PASS);
    let imap = server.wait_role("imap", None, None);

    let mut c = try_login(&server).unwrap_or_else(|e| {
        panic!(
            "login with the server's stderr going to a file: {e}\n{}",
            server.logs()
        )
    });
    c.ok("SELECT INBOX");
    let r = c
        .append("INBOX", &[], &make_message("stderr-to-file", 2000))
        .expect("APPEND");
    assert!(r.is_ok(), "APPEND: {r:?}");
    c.logout();

    let now = server.wait_role("imap", None, None);
    assert_eq!(
        now.pid,
        imap.pid,
        "the imap process died and was restarted while its stderr was a regular file\n{}",
        server.logs()
    );
    let logged = std::fs::metadata(&server.stderr_log)
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(logged > 0, "nothing was logged to the stderr file");
}
