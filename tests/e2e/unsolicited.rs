//! Unsolicited state (RFC 9051 §7): what one session changes reaches
//! another session of the same user that has the mailbox selected, in
//! IDLE, whether both are served by one storage process or by two; a
//! keyword is announced in FLAGS before a FETCH carries it; and DELETE of
//! a selected mailbox, for the session that deletes it and for another
//! that has it selected.

use std::time::Duration;

use mailkeep_testkit::{BlockingClient, Listeners, Reply, Response, Status};

use crate::harness::{DEADLINE, Options, Server, TestDir, make_message};

fn raw(r: &Response) -> String {
    String::from_utf8_lossy(r.raw()).into_owned()
}

/// Session `a` has INBOX selected with one message (UID 1, no flags but
/// `\Recent`: `a` selected it first) and
/// waits in IDLE; session `b` appends a message, flags the first one, and
/// gives it a keyword `a` has never seen. `a` hears each, in order: the
/// new message count, the flag, then the keyword in `* FLAGS` before the
/// FETCH that carries it.
fn idle_hears_what_the_other_session_does(a: &mut BlockingClient, b: &mut BlockingClient) {
    let mut idle = a.idle().expect("IDLE");

    let r = b
        .append("INBOX", &[], &make_message("from-b", 2000))
        .expect("B's APPEND");
    assert!(r.is_ok(), "{r:?}");
    let seen = idle
        .wait_for(|r| r.is_data("EXISTS"))
        .expect("A hears the new message");
    assert_eq!(raw(seen.last().expect("one")), "* 2 EXISTS\r\n", "{seen:?}");

    b.ok("SELECT INBOX");
    b.ok("STORE 1 +FLAGS.SILENT (\\Flagged)");
    let seen = idle
        .wait_for(|r| r.is_data("FETCH"))
        .expect("A hears the flag");
    assert_eq!(
        raw(seen.last().expect("one")),
        "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))\r\n",
        "{seen:?}"
    );

    b.ok("STORE 1 +FLAGS.SILENT ($Project)");
    let seen = idle
        .wait_for(|r| r.is_data("FETCH"))
        .expect("A hears the keyword");
    let flags = seen
        .iter()
        .position(|r| r.is_data("FLAGS"))
        .unwrap_or_else(|| panic!("no * FLAGS before the FETCH: {seen:?}"));
    assert_eq!(
        raw(&seen[flags]),
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Project)\r\n"
    );
    assert_eq!(
        raw(seen.last().expect("one")),
        "* 1 FETCH (UID 1 FLAGS (\\Flagged $Project \\Recent))\r\n",
        "{seen:?}"
    );

    let r = idle.done().expect("DONE");
    assert!(r.is_ok(), "{r:?}");
}

/// Logs alice in, with INBOX selected holding one message.
fn selected_with_one_message(server: &Server<'_>) -> BlockingClient {
    let mut a = server.login("alice", "a-secret");
    let r = a
        .append("INBOX", &[], &make_message("first", 2000))
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    let r = a.ok("SELECT INBOX");
    assert_eq!(r.exists(), Some(1), "{r:?}");
    a
}

#[test]
fn idle_hears_appends_flags_and_new_keywords_from_a_session_on_the_same_storage_process() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "a-secret");
    let mut a = selected_with_one_message(&server);
    let mut b = server.login("alice", "a-secret");
    assert_eq!(
        server.role_procs("storage", Some("alice")).len(),
        1,
        "one storage process serves both sessions"
    );
    idle_hears_what_the_other_session_does(&mut a, &mut b);
    assert_eq!(server.role_procs("storage", Some("alice")).len(), 1);
    a.logout();
    b.logout();
}

/// Two storage processes for one owner, as busy.rs makes them: session A
/// logs in and selects INBOX while alice has one storage process; session
/// C then keeps a long FETCH in flight there without reading it, so that
/// process reports busy; session B, logging in now, gets a second storage
/// process. What B does reaches A in IDLE across the two processes.
///
/// No channel is kept warm (`keep_warm_secs = 0`): a warm one would carry
/// B's first call to the busy process while the broker is still starting
/// the second, and B's SELECT could answer before that process exists.
#[test]
fn idle_hears_appends_flags_and_new_keywords_from_a_session_on_another_storage_process() {
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        "\n[storage]\nbusy_after_ms = 200\nmax_processes_per_key = 2\nkeep_warm_secs = 0\n",
    );
    server.add_user("alice", "a-secret");
    let mut a = selected_with_one_message(&server);
    let first = server.wait_role("storage", Some("alice"), None);

    let mut c = server.login("alice", "a-secret");
    c.ok("CREATE Big");
    let line = "All work and no play makes a busy storage process.\r\n";
    let body: String = line.repeat(1024 * 1024 / line.len());
    for i in 0..24 {
        let message = format!("Subject: big {i}\r\nMessage-ID: <big{i}@test>\r\n\r\n{body}");
        let r = c.append("Big", &[], message.as_bytes()).expect("APPEND");
        assert!(r.is_ok(), "APPEND {i}: {r:?}");
    }
    c.ok("SELECT Big");
    let busy_before = server.busy_reports_when_calm();
    c.send_raw(b"big FETCH 1:* BODY.PEEK[]\r\n")
        .expect("sending FETCH");
    server.wait_for_another("busy=true", busy_before, Duration::from_secs(15));

    // B's first storage call asks the broker for a storage process.
    let mut b = server.login("alice", "a-secret");
    b.ok("SELECT INBOX");
    let procs = server.role_procs("storage", Some("alice"));
    assert_eq!(procs.len(), 2, "B got a second storage process: {procs:?}");
    assert!(procs.iter().any(|p| p.pid == first.pid));

    idle_hears_what_the_other_session_does(&mut a, &mut b);
    a.logout();
    b.logout();
}

/// The reply holds `flags` (a `* FLAGS` line) before `fetch` (a
/// `* 1 FETCH` line), exactly as given.
#[track_caller]
fn assert_flags_then_fetch(r: &mailkeep_testkit::Reply, flags: &str, fetch: &str) {
    let lines: Vec<String> = r.responses.iter().map(raw).collect();
    let at = |start: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start}: {lines:?}"))
    };
    let (f, m) = (at("* FLAGS"), at("* 1 FETCH"));
    assert!(f < m, "{lines:?}");
    assert_eq!(lines[f], flags);
    assert_eq!(lines[m], fetch);
}

/// The session's own STORE of a keyword it never saw, and another
/// session's, both answer `* FLAGS` (with the keyword) before the FETCH
/// that carries it; a keyword already announced is not announced again.
#[test]
fn a_new_keyword_is_announced_in_flags_before_the_fetch_that_carries_it() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "a-secret");
    let mut a = selected_with_one_message(&server);

    let r = a.ok("STORE 1 +FLAGS ($Own)");
    assert_flags_then_fetch(
        &r,
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Own)\r\n",
        "* 1 FETCH (FLAGS ($Own \\Recent))\r\n",
    );

    let mut b = server.login("alice", "a-secret");
    b.ok("SELECT INBOX");
    b.ok("STORE 1 +FLAGS.SILENT ($Theirs)");
    let r = a.ok("NOOP");
    assert_flags_then_fetch(
        &r,
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Own $Theirs)\r\n",
        "* 1 FETCH (UID 1 FLAGS ($Own $Theirs \\Recent))\r\n",
    );

    // Known now: no second announcement.
    b.ok("STORE 1 -FLAGS.SILENT ($Own)");
    let r = a.ok("NOOP");
    let lines: Vec<String> = r.responses.iter().map(raw).collect();
    assert_eq!(lines, ["* 1 FETCH (UID 1 FLAGS ($Theirs \\Recent))\r\n"]);
    a.logout();
    b.logout();
}

/// DELETE of the mailbox the session has selected answers OK (RFC 9051
/// §6.3.4 allows it), says `[CLOSED]`, and leaves the session in the
/// authenticated state; another session that had it selected is told at
/// its next command with `* BYE`, and the connection closes.
#[test]
fn deleting_the_selected_mailbox_unselects_it_and_another_session_with_it_selected_is_told() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "a-secret");
    let mut a = server.login("alice", "a-secret");
    a.ok("CREATE Work");
    let r = a
        .append("Work", &[], &make_message("work-1", 2000))
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    a.ok("SELECT Work");
    let mut b = server.login("alice", "a-secret");
    let r = b.ok("SELECT Work");
    assert_eq!(r.exists(), Some(1), "{r:?}");

    let r = a.ok("DELETE Work");
    let lines: Vec<String> = r.responses.iter().map(raw).collect();
    assert_eq!(
        lines,
        ["* OK [CLOSED] The selected mailbox was deleted.\r\n"]
    );
    let r = a.run("FETCH 1 (FLAGS)").expect("FETCH after DELETE");
    assert_eq!(r.status(), Status::Bad, "{r:?}");
    assert_eq!(r.text(), "No mailbox selected");
    let r = a.ok("LIST \"\" Work");
    assert!(r.list("LIST").is_empty(), "{r:?}");
    a.ok("SELECT INBOX");

    let tag = b.send_command("NOOP").expect("B's NOOP");
    let first = b.read_response().expect("B is told");
    assert_eq!(
        raw(&first),
        "* BYE The selected mailbox was deleted or renumbered; closing\r\n"
    );
    let rest = b.read_until_closed().expect("the connection closes");
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with(&format!("{tag} ")),
        "after the BYE: {rest:?}"
    );
    a.logout();
}

/// An owner whose only session waits in IDLE has its index connections
/// closed by the storage process (release_idle_secs); the session stays
/// attached: new mail from another session still reaches it, and its next
/// commands reopen the index and see everything.
#[test]
fn idle_hears_new_mail_after_its_idle_owner_was_released() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "\n[storage]\nrelease_idle_secs = 1\n");
    server.add_user("alice", "a-secret");
    let mut a = selected_with_one_message(&server);
    let mut idle = a.idle().expect("IDLE");
    let released = "closed the index connections of idle owners";
    let before = server.count_in_output(released);
    server.wait_for_another(released, before, Duration::from_secs(30));

    let mut b = server.login("alice", "a-secret");
    let r = b
        .append("INBOX", &[], &make_message("after-release", 2000))
        .expect("B's APPEND");
    assert!(r.is_ok(), "{r:?}");
    let seen = idle
        .wait_for(|r| r.is_data("EXISTS"))
        .expect("A hears the new message");
    assert_eq!(raw(seen.last().expect("one")), "* 2 EXISTS\r\n", "{seen:?}");
    let r = idle.done().expect("DONE");
    assert!(r.is_ok(), "{r:?}");
    let r = a.ok("FETCH 2 (ENVELOPE)");
    assert!(
        format!("{r:?}").contains("test message after-release"),
        "{r:?}"
    );
    a.logout();
    b.logout();
}

/// A server whose storage processes log each call they admit (what the
/// tests below count), with the account `alice`. Its replies wait as long
/// as it takes for the watch's news (its opening after SELECT, its event
/// of the session's own APPEND) rather than the default 250 and 20 ms,
/// past which they ask storage: the calls the tests count as saved are
/// then saved however loaded the machine is.
fn traced_server(dir: &TestDir) -> Server<'_> {
    let options = Options {
        log_filter: Some("info,mailkeep_storage_server=trace".to_owned()),
        extra_imap: "own_append_wait_ms = 30000\nwatch_open_wait_ms = 30000\n".to_owned(),
        ..Options::default()
    };
    let server = Server::start_opts(dir, options, Listeners::new());
    server.add_user("alice", "alice-secret-1");
    server
}

/// The storage calls of `method` admitted so far.
fn admitted(server: &Server<'_>, method: &str) -> usize {
    server.count_in_output(&format!("storage call admitted method=\"{method}\""))
}

/// Returns once the log holds every call `client` made so far: a STATUS
/// after them, whose line comes after theirs (one process, one pipe).
fn settle(server: &Server<'_>, client: &mut BlockingClient) {
    let before = admitted(server, "MailboxStatus");
    client.ok("STATUS Drafts (MESSAGES)");
    server.wait_for_another(
        "storage call admitted method=\"MailboxStatus\"",
        before,
        DEADLINE,
    );
}

/// The FETCH lines of `r` that carry `\\Flagged`.
fn flagged_fetches(r: &Reply) -> Vec<String> {
    r.lines_of("FETCH")
        .into_iter()
        .filter(|l| l.contains("\\Flagged"))
        .collect()
}

/// Three small messages appended to INBOX by `client`.
fn append_three(client: &mut BlockingClient) {
    for n in 0..3 {
        let r = client
            .append("INBOX", &[], &make_message(&format!("m{n}"), 300))
            .expect("APPEND");
        assert!(r.is_ok(), "{r:?}");
    }
}

/// The first command after SELECT starts the watch, which tells the
/// mailbox's MODSEQ once it began: when nothing changed since SELECT, the
/// flag resync (`UID FETCH 1:* (FLAGS)`) and the commands after it ask
/// storage for no changes; when another session changed the mailbox
/// between SELECT and that command (before the watch began), the command
/// still tells of the change. Counted in the storage process's trace line
/// per admitted call.
#[test]
fn the_watch_start_tells_whether_anything_changed_since_select() {
    let dir = TestDir::new();
    let server = traced_server(&dir);
    let mut a = server.login("alice", "alice-secret-1");
    let mut b = server.login("alice", "alice-secret-1");
    append_three(&mut b);
    let admitted = |method: &str| admitted(&server, method);
    let settle = |client: &mut BlockingClient| settle(&server, client);

    // Nothing changed since SELECT: no Changes call.
    settle(&mut a);
    let changes_before = admitted("Changes");
    let watches_before = admitted("Watch");
    a.ok("SELECT INBOX");
    let r = a.ok("UID FETCH 1:* (FLAGS)");
    assert_eq!(r.fetches().len(), 3, "{r:?}");
    a.ok("UID FETCH 1:* (FLAGS)");
    a.ok("UID FETCH 1 (ENVELOPE)");
    settle(&mut a);
    assert_eq!(admitted("Watch"), watches_before + 1, "{}", server.logs());
    assert_eq!(
        admitted("Changes"),
        changes_before,
        "Changes calls after a SELECT nothing followed"
    );

    // Changed between SELECT and the first command (no watch yet: the
    // earlier selection ended first, so none goes on): the first command,
    // with a new watch, tells of it.
    a.ok("UNSELECT");
    a.ok("SELECT INBOX");
    b.ok("SELECT INBOX");
    b.ok("UID STORE 2 +FLAGS.SILENT (\\Flagged)");
    let r = a.ok("UID FETCH 1:* (FLAGS)");
    let flagged = flagged_fetches(&r);
    // (Told once as the change and once as the answer, or once.)
    assert!(!flagged.is_empty(), "{r:?}");
    assert!(flagged.iter().all(|l| l.contains("UID 2 ")), "{r:?}");
    // And a message added meanwhile, told at the first command.
    a.ok("UNSELECT");
    a.ok("SELECT INBOX");
    let r = b
        .append("INBOX", &[], &make_message("late", 300))
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    let r = a.ok("UID FETCH 1:* (FLAGS)");
    assert_eq!(r.exists(), Some(4), "{r:?}");
    let r = a.ok("UID FETCH 1:* (FLAGS)");
    assert_eq!(r.fetches().len(), 4, "{r:?}");
    settle(&mut a);
    // Each of the two selections opened a watch of its own (b's is one
    // more), and asked storage what changed before it began.
    assert_eq!(admitted("Watch"), watches_before + 4, "{}", server.logs());
    assert!(admitted("Changes") > changes_before, "{}", server.logs());
    a.logout();
    b.logout();
}

/// SELECT of the mailbox selected already goes on with the stream that
/// follows it (no Watch call and no Changes call for the new selection),
/// and that stream still tells the new selection of other sessions'
/// changes; a selection of another mailbox in between ends it.
#[test]
fn selecting_the_same_mailbox_again_keeps_its_watch() {
    let dir = TestDir::new();
    let server = traced_server(&dir);
    let mut a = server.login("alice", "alice-secret-1");
    let mut b = server.login("alice", "alice-secret-1");
    b.ok("CREATE Other");
    append_three(&mut b);
    let admitted = |method: &str| admitted(&server, method);
    let settle = |client: &mut BlockingClient| settle(&server, client);
    a.ok("SELECT INBOX");
    a.ok("UID FETCH 1:* (FLAGS)");
    // (b's own watch starts here, before the count.)
    b.ok("SELECT INBOX");
    b.ok("UID FETCH 1:* (FLAGS)");
    settle(&mut a);
    let watches = admitted("Watch");
    let changes = admitted("Changes");

    // Another session's change between the two selections is in the new
    // one's view; one after it comes by the same stream.
    b.ok("UID STORE 1 +FLAGS.SILENT (\\Flagged)");
    let r = a.ok("SELECT INBOX");
    assert_eq!(r.exists(), Some(3), "{r:?}");
    let r = a.ok("UID FETCH 1:* (FLAGS)");
    let flagged = flagged_fetches(&r);
    assert!(!flagged.is_empty(), "{r:?}");
    assert!(flagged.iter().all(|l| l.contains("UID 1 ")), "{r:?}");
    let mut idle = a.idle().expect("IDLE");
    let r = b
        .append("INBOX", &[], &make_message("later", 300))
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    let seen = idle
        .wait_for(|r| r.is_data("EXISTS"))
        .expect("A hears the new message");
    assert_eq!(raw(seen.last().expect("one")), "* 4 EXISTS\r\n", "{seen:?}");
    assert!(idle.done().expect("DONE").is_ok());
    settle(&mut a);
    assert_eq!(admitted("Watch"), watches, "{}", server.logs());
    assert_eq!(admitted("Changes"), changes, "{}", server.logs());

    // Another mailbox in between: the stream ends, the next selection
    // opens one at its first command.
    a.ok("SELECT Other");
    a.ok("SELECT INBOX");
    a.ok("UID FETCH 1:* (FLAGS)");
    settle(&mut a);
    assert_eq!(admitted("Watch"), watches + 1, "{}", server.logs());
    a.logout();
    b.logout();
}

/// An APPEND into the selected mailbox, watched: its EXISTS comes before
/// the OK from the watch's delta of it, with no Changes call (the fix
/// before asked storage at every such APPEND: ten calls here). Counted in
/// the storage process's trace line per admitted call.
#[test]
fn an_append_into_the_watched_mailbox_makes_no_changes_call() {
    let dir = TestDir::new();
    let server = traced_server(&dir);
    let mut a = server.login("alice", "alice-secret-1");
    a.ok("SELECT INBOX");
    // The watch is up once another session's APPEND reaches a's IDLE.
    let mut b = server.login("alice", "alice-secret-1");
    let mut idle = a.idle().expect("IDLE");
    let r = b
        .append("INBOX", &[], &make_message("from-b", 500))
        .expect("B's APPEND");
    assert!(r.is_ok(), "{r:?}");
    idle.wait_for(|r| r.is_data("EXISTS"))
        .expect("A hears the new message");
    assert!(idle.done().expect("DONE").is_ok());

    let admitted = |method: &str| admitted(&server, method);
    let changes_before = admitted("Changes");
    for round in 0..10u32 {
        let r = a
            .append("INBOX", &[], &make_message(&format!("round-{round}"), 500))
            .expect("APPEND");
        assert!(r.is_ok(), "round {round}: {r:?}");
        assert_eq!(r.exists(), Some(round + 2), "round {round}: {r:?}");
    }
    settle(&server, &mut a);
    assert!(admitted("Append") >= 11, "{}", server.logs());
    assert_eq!(
        admitted("Changes"),
        changes_before,
        "Changes calls made by the APPENDs"
    );
}

/// IDLE says it is still there every `[imap] idle_keepalive_secs` (here
/// one second instead of the default two minutes, which would outlast the
/// client's read timeout), and the IDLE still ends with DONE.
#[test]
fn idle_sends_keepalives_at_the_configured_interval() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "idle_keepalive_secs = 1\n");
    server.add_user("alice", "a-secret");
    let mut a = server.login("alice", "a-secret");
    a.ok("SELECT INBOX");
    let mut idle = a.idle().expect("IDLE");
    let still_here = |r: &Response| r.status().is_some_and(|s| s.text == "Still here");
    for n in 1..=2 {
        idle.wait_for(still_here)
            .unwrap_or_else(|e| panic!("keepalive {n}: {e}"));
    }
    let r = idle.done().expect("DONE");
    assert!(r.is_ok(), "{r:?}");
    a.logout();
}
