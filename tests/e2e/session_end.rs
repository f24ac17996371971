//! A ticket dies with its session (issue 10, DESIGN §2), tried as the
//! attacker of the issue did: tickets read out of the running imap
//! process's memory (as root, through /proc/PID/mem) are shown to the
//! broker and to the storage process through the client socket. While the
//! session lives one of them reads the mail (the capture is real); after
//! LOGOUT, after UNAUTHENTICATE, and after the connection simply closes,
//! none does. And after LOGOUT no ticket is left in the process's memory at
//! all, not even in the read buffer of its long-lived auth connection,
//! where auth's last reply stays until the next one: auth seals tickets to
//! a key of the request's own, wiped once the reply is opened. Nor, after
//! a renewal, in its write buffer, where the renewal's request stays: the
//! old ticket travels sealed to auth's request key.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use mailkeep_storage_rpc::broker_client::BrokerClient;
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::ListMailboxesRequest;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;

use crate::harness::{Options, Server, TestDir, children_of, pop3, require_root, wait_until};

const USER: &str = "erin";
const PASSWORD: &str = "erin-secret-1";

/// Every ticket-shaped string (`mk2.<claims>.<86-character signature>`)
/// in the readable, writable memory of process `pid`.
fn tickets_in_memory(pid: i32) -> BTreeSet<String> {
    tickets_found(pid)
        .into_iter()
        .map(|(ticket, _)| ticket)
        .collect()
}

/// [`tickets_in_memory`] with the mapping each copy was found in (its
/// line of `/proc/PID/maps`, for a failure message).
fn tickets_found(pid: i32) -> BTreeSet<(String, String)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("reading maps");
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("opening mem");
    let mut found = BTreeSet::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with("rw") || line.ends_with("[vvar]") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        else {
            continue;
        };
        let mut bytes = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut bytes).is_err() {
            continue;
        }
        let mut at = 0;
        while let Some(i) = memchr_mk2(&bytes[at..]) {
            let begin = at + i;
            if let Some(ticket) = ticket_at(&bytes[begin..]) {
                found.insert((ticket, line.to_owned()));
            }
            at = begin + 4;
        }
    }
    found
}

/// The ticket that `bytes` (which start with `mk2.`) begin with: the
/// claims in base64url, a dot, and the 86 base64url characters of the
/// signature. Whatever follows is not looked at: a heap block holding a
/// ticket may be followed by leftover bytes of an earlier use, which must
/// not hide it.
fn ticket_at(bytes: &[u8]) -> Option<String> {
    let base64url = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
    let claims = bytes[4..].iter().take_while(|b| base64url(b)).count();
    let dot = 4 + claims;
    if claims == 0 || bytes.get(dot) != Some(&b'.') {
        return None;
    }
    let signature = bytes.get(dot + 1..dot + 1 + 86)?;
    if !signature.iter().all(base64url) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes[..dot + 1 + 86]).into_owned())
}

fn memchr_mk2(hay: &[u8]) -> Option<usize> {
    hay.windows(4).position(|w| w == b"mk2.")
}

/// The imap process of `server`.
fn imap_pid(server: &Server) -> i32 {
    let imap: Vec<_> = children_of(server.pid())
        .into_iter()
        .filter(|p| p.role() == Some("imap"))
        .collect();
    assert_eq!(imap.len(), 1, "one imap process: {imap:?}");
    imap[0].pid
}

/// What a stolen ticket gets: a storage channel from the broker, and on it
/// the user's mailbox list.
async fn reads_mail(broker: &BrokerClient, ticket: &str) -> Result<usize, String> {
    let channel = broker
        .storage_channel(ticket, USER)
        .await
        .map_err(|e| format!("broker: {e}"))?;
    list_on(&channel, ticket).await
}

async fn list_on(channel: &LeasedChannel, ticket: &str) -> Result<usize, String> {
    let request = with_ticket(ListMailboxesRequest { owner: USER.into() }, ticket);
    StorageClient::new(channel.clone())
        .list_mailboxes(request)
        .await
        .map(|r| r.into_inner().mailboxes.len())
        .map_err(|s| format!("storage: {:?} {}", s.code(), s.message()))
}

/// The first of the `stolen` tickets that reads the user's mail through
/// the broker while its session lives (proof the capture is real), with
/// the channel it got, to try again once the session ended.
async fn working_ticket(
    broker: &BrokerClient,
    stolen: &BTreeSet<String>,
) -> Option<(String, LeasedChannel)> {
    for ticket in stolen {
        if let Ok(channel) = broker.storage_channel(ticket, USER).await
            && list_on(&channel, ticket).await.is_ok()
        {
            return Some((ticket.clone(), channel));
        }
    }
    None
}

/// How a session ends in each round of the test.
#[derive(Debug, Clone, Copy)]
enum Ending {
    Logout,
    Unauthenticate,
    ConnectionClosed,
}

#[test]
fn tickets_captured_from_the_imap_process_read_no_mail_once_the_session_ended() {
    if !require_root("tickets_captured_from_the_imap_process_read_no_mail_once_the_session_ended") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "processes = 1\n");
    server.add_user(USER, PASSWORD);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // One broker client for the whole test: the master also ends every
    // session a client showed when that client goes, which must not be
    // what revokes the stolen tickets here.
    let socket = dir.data_dir().join("run/client.sock");
    let broker = runtime
        .block_on(BrokerClient::connect(&socket))
        .expect("connecting to the client socket");

    for ending in [
        Ending::Logout,
        Ending::Unauthenticate,
        Ending::ConnectionClosed,
    ] {
        let mut client = server.login(USER, PASSWORD);
        client.ok("SELECT INBOX");
        let stolen = tickets_in_memory(imap_pid(&server));
        assert!(
            !stolen.is_empty(),
            "{ending:?}: no ticket in the imap process's memory"
        );
        // The capture is real: while the session lives, a stolen ticket
        // reads the mail; keep its channel to try again after the end.
        let (working, channel) = runtime
            .block_on(working_ticket(&broker, &stolen))
            .unwrap_or_else(|| panic!("{ending:?}: no captured ticket works during the session"));

        match ending {
            Ending::Logout => client.logout(),
            Ending::Unauthenticate => {
                client.ok("UNAUTHENTICATE");
                client.close();
            }
            Ending::ConnectionClosed => client.close(),
        }
        let refused = |ticket: &str| {
            runtime.block_on(async {
                (
                    reads_mail(&broker, ticket).await,
                    list_on(&channel, ticket).await,
                )
            })
        };
        let check_all = || {
            stolen.iter().all(|ticket| {
                let (via_broker, on_channel) = refused(ticket);
                via_broker.is_err() && on_channel.is_err()
            })
        };
        match ending {
            // LOGOUT and UNAUTHENTICATE answer only once the session is
            // revoked: refused at once.
            Ending::Logout | Ending::Unauthenticate => {
                let (via_broker, on_channel) = refused(&working);
                let message = via_broker.expect_err("the broker honoured a revoked ticket");
                assert!(message.contains("revoked"), "{ending:?}: {message}");
                let message = on_channel.expect_err("storage honoured a revoked ticket");
                assert!(message.contains("revoked"), "{ending:?}: {message}");
                assert!(
                    check_all(),
                    "{ending:?}: some captured ticket still reads mail"
                );
            }
            // A closed connection is noticed by the process on its own
            // time: wait for the revocation to land.
            Ending::ConnectionClosed => wait_until(
                Duration::from_secs(20),
                "the closed session's tickets to be refused",
                || check_all().then_some(()),
            ),
        }
    }
}

/// POP3's QUIT is answered only once the session's tickets are revoked,
/// as IMAP's LOGOUT: a ticket captured from the pop3 process while the
/// session lived reads no mail as soon as the client has QUIT's `+OK`.
#[test]
fn tickets_captured_from_the_pop3_process_read_no_mail_once_quit_is_answered() {
    if !require_root("tickets_captured_from_the_pop3_process_read_no_mail_once_quit_is_answered") {
        return;
    }
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user(USER, PASSWORD);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let socket = dir.data_dir().join("run/client.sock");
    let broker = runtime
        .block_on(BrokerClient::connect(&socket))
        .expect("connecting to the client socket");

    let mut client = pop3::login(&server, USER, PASSWORD);
    let stolen: BTreeSet<String> = children_of(server.pid())
        .into_iter()
        .filter(|p| p.role() == Some("pop3"))
        .flat_map(|p| tickets_in_memory(p.pid))
        .collect();
    assert!(!stolen.is_empty(), "no ticket in the pop3 process's memory");
    let (working, channel) = runtime
        .block_on(working_ticket(&broker, &stolen))
        .expect("no captured ticket works during the session");

    let status = client.command("QUIT").expect("QUIT");
    assert!(status.is_ok(), "QUIT: {status:?}");
    let (via_broker, on_channel) = runtime.block_on(async {
        (
            reads_mail(&broker, &working).await,
            list_on(&channel, &working).await,
        )
    });
    let message = via_broker.expect_err("the broker honoured a ticket after QUIT's +OK");
    assert!(message.contains("revoked"), "{message}");
    let message = on_channel.expect_err("storage honoured a ticket after QUIT's +OK");
    assert!(message.contains("revoked"), "{message}");
}

/// After LOGOUT nothing of the session's ticket is left in the imap
/// process: not the copies the session held (wiped when dropped), and not
/// the one in the read buffer of the process's auth connection, which
/// outlives every session (auth's reply carried the ticket sealed to a key
/// the process made for that request and wiped once it opened it).
#[test]
fn no_ticket_is_left_in_the_imap_process_after_logout() {
    if !require_root("no_ticket_is_left_in_the_imap_process_after_logout") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "processes = 1\n");
    server.add_user(USER, PASSWORD);
    let mut client = server.login(USER, PASSWORD);
    client.ok("SELECT INBOX");
    let pid = imap_pid(&server);
    // The search finds the session's ticket while the session lives.
    assert!(
        !tickets_in_memory(pid).is_empty(),
        "no ticket in the imap process's memory during the session"
    );
    client.logout();
    let left = tickets_left(pid);
    assert!(
        left.is_empty(),
        "tickets left in the imap process after LOGOUT: {left:#?}"
    );
}

/// The tickets (with their mappings) found in process `pid` once a session
/// ended. The session's state is dropped once the connection is done with,
/// which may be a moment after the client saw the reply: look until
/// nothing is found, or the deadline passed.
fn tickets_left(pid: i32) -> BTreeSet<(String, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = tickets_found(pid);
        if left.is_empty() || std::time::Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A renewal does not leave the old ticket behind either: its request
/// carries the old ticket sealed to auth's request key (with a key made
/// for that seal alone), never in clear, so the write buffer of the auth
/// connection, which keeps the last request's bytes, holds nothing a
/// LOGOUT would have to wipe. The session's ticket is renewed for real:
/// tickets live the shortest time the configuration allows (60 s), and the
/// session is renewed once half of that has gone, when a command next
/// needs storage.
#[test]
fn no_ticket_is_left_in_the_imap_process_after_a_renewal_and_logout() {
    if !require_root("no_ticket_is_left_in_the_imap_process_after_a_renewal_and_logout") {
        return;
    }
    let dir = TestDir::new();
    let options = Options {
        extra_imap: "processes = 1\n".to_owned(),
        extra_auth: "ticket_lifetime_secs = 60\n".to_owned(),
        ..Options::default()
    };
    let server = Server::start_opts(&dir, options, mailkeep_testkit::Listeners::new());
    server.add_user(USER, PASSWORD);
    let mut client = server.login(USER, PASSWORD);
    client.ok("SELECT INBOX");
    let pid = imap_pid(&server);
    let at_login = tickets_in_memory(pid);
    assert!(
        !at_login.is_empty(),
        "no ticket in the imap process's memory during the session"
    );
    // Storage calls until one of them renewed the ticket (auth logs each
    // renewal), which takes half the ticket's life.
    wait_until(
        Duration::from_secs(90),
        "auth to renew the session's ticket",
        || {
            client.ok("STATUS INBOX (MESSAGES)");
            server.logs().contains("ticket renewed").then_some(())
        },
    );
    client.ok("STATUS INBOX (MESSAGES)");
    let renewed: Vec<String> = tickets_in_memory(pid)
        .into_iter()
        .filter(|ticket| !at_login.contains(ticket))
        .collect();
    assert!(
        !renewed.is_empty(),
        "the session holds no renewed ticket\n{}",
        server.logs()
    );
    client.logout();
    let left = tickets_left(pid);
    let old_left: Vec<_> = left
        .iter()
        .filter(|(ticket, _)| at_login.contains(ticket))
        .collect();
    assert!(
        old_left.is_empty(),
        "the renewed-away ticket is left in the imap process after LOGOUT: {old_left:#?}"
    );
    assert!(
        left.is_empty(),
        "tickets left in the imap process after a renewal and LOGOUT: {left:#?}"
    );
}
