//! Master users (`[auth] master_users`, Dovecot's convention): a listed
//! account logs in as another with its own password, and the session is
//! the other's in every way; the log names both.

use mailkeep_testkit::scram::{Hash, ScramClient};
use mailkeep_testkit::{BlockingClient, Status};

use crate::harness::{DEADLINE, Options, Server, TestDir};

/// The Subject of the one message in `client`'s INBOX (selected here),
/// asserting it holds exactly one.
#[track_caller]
fn only_subject(client: &mut BlockingClient) -> String {
    let selected = client.ok("SELECT INBOX");
    assert_eq!(selected.exists(), Some(1), "SELECT: {selected:?}");
    let fetched = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    let header = fetched
        .fetch(1)
        .and_then(|f| f.bytes("BODY[HEADER.FIELDS (SUBJECT)]"))
        .unwrap_or_else(|| panic!("no header in {fetched:?}"));
    String::from_utf8_lossy(header).trim().to_owned()
}

/// `alice*admin` with admin's password, admin being a master user, opens
/// alice's mailbox: what it appends is in alice's INBOX (seen by alice's
/// own login) and not in admin's; SASL PLAIN with authzid alice does the
/// same; a non-master's password, or a wrong master password, is refused;
/// the log lines name user and master.
#[test]
fn a_master_user_logs_in_to_another_users_mailbox() {
    let dir = TestDir::new();
    let options = Options {
        extra_auth: "master_users = [\"admin\"]\n".to_owned(),
        ..Options::default()
    };
    let server = Server::start_opts(&dir, options, mailkeep_testkit::Listeners::new());
    server.add_user("alice", "alice-secret");
    server.add_user("admin", "admin-secret");
    server.add_user("bob", "bob-secret");

    let mut admin = server.login("admin", "admin-secret");
    admin
        .append("INBOX", &[], b"Subject: admin's own\r\n\r\nmine\r\n")
        .expect("APPEND for admin");
    admin.logout();

    let mut master = server.login("alice*admin", "admin-secret");
    let appended = master
        .append("INBOX", &[], b"Subject: via master\r\n\r\nfor alice\r\n")
        .expect("APPEND as alice*admin");
    assert!(appended.is_ok(), "{appended:?}");
    assert_eq!(only_subject(&mut master), "Subject: via master");
    master.logout();
    server.wait_for_output("the master login's line", DEADLINE, |out| {
        out.contains(
            "INFO login rip=127.0.0.1 user=\"alice\" master=\"admin\" protocol=\"imap\" \
             mechanism=\"PLAIN\"",
        )
        .then_some(())
    });

    // The mail is alice's, and only alice's.
    let mut alice = server.login("alice", "alice-secret");
    assert_eq!(only_subject(&mut alice), "Subject: via master");
    alice.logout();
    let mut admin = server.login("admin", "admin-secret");
    assert_eq!(only_subject(&mut admin), "Subject: admin's own");
    admin.logout();

    // RFC 4616 proxy authorization: authzid alice, authcid admin.
    let mut plain = server.connect();
    let r = plain
        .authenticate("PLAIN", Some(b"alice\0admin\0admin-secret"), |_| None)
        .expect("AUTHENTICATE");
    assert!(r.is_ok(), "AUTHENTICATE PLAIN as alice by admin: {r:?}");
    assert_eq!(only_subject(&mut plain), "Subject: via master");
    plain.logout();

    // bob is no master; admin's password must be admin's.
    for (name, password) in [("alice*bob", "bob-secret"), ("alice*admin", "alice-secret")] {
        let mut refused = server.connect();
        let r = refused.login(name, password).expect("LOGIN");
        assert_eq!(r.status(), Status::No, "LOGIN {name}: {r:?}");
        assert!(r.has_code("AUTHENTICATIONFAILED"), "LOGIN {name}: {r:?}");
    }
    server.wait_for_output("the refused master logins' lines", DEADLINE, |out| {
        (out.contains(
            "login failed rip=127.0.0.1 user=\"alice\" master=\"bob\" \
             reason=\"not a master user\"",
        ) && out.contains(
            "login failed rip=127.0.0.1 user=\"alice\" master=\"admin\" \
             reason=\"wrong master password\"",
        ))
        .then_some(())
    });
}

/// SCRAM-SHA-256 master logins: `alice*keeper` as the SCRAM user name, or
/// keeper authorising as `alice` (`a=alice`), proved with keeper's SCRAM
/// keys, open alice's mailbox; bob (no master) cannot, even with his own
/// right SCRAM keys.
#[test]
fn a_master_user_logs_in_as_another_by_scram() {
    let dir = TestDir::new();
    let options = Options {
        extra_auth: "master_users = [\"keeper\"]\n".to_owned(),
        ..Options::default()
    };
    let server = Server::start_opts(&dir, options, mailkeep_testkit::Listeners::new());
    server.add_user("alice", "alice-secret");
    server.add_user_with_scheme("keeper", "keeper-secret", "SCRAM-SHA-256");
    server.add_user_with_scheme("bob", "bob-secret", "SCRAM-SHA-256");
    let mut alice = server.login("alice", "alice-secret");
    alice
        .append("INBOX", &[], b"Subject: alice's\r\n\r\nhers\r\n")
        .expect("APPEND for alice");
    alice.logout();

    let scram = |gs2: &str, user: &str, password: &str| {
        let mut client = server.connect();
        let mut scram = ScramClient::new(Hash::Sha256, user, password, gs2, b"");
        let first = scram.first_message();
        let mut step = 0;
        let reply = client
            .authenticate("SCRAM-SHA-256", Some(&first), |challenge| {
                step += 1;
                match step {
                    1 => Some(scram.final_message(challenge)),
                    2 => Some(Vec::new()),
                    _ => None,
                }
            })
            .expect("AUTHENTICATE");
        (client, reply)
    };
    for (gs2, user) in [("n,,", "alice*keeper"), ("n,a=alice,", "keeper")] {
        let (mut client, reply) = scram(gs2, user, "keeper-secret");
        assert!(reply.is_ok(), "SCRAM {gs2}{user}: {reply:?}");
        assert_eq!(only_subject(&mut client), "Subject: alice's");
        client.logout();
    }
    server.wait_for_output("the SCRAM master login's line", DEADLINE, |out| {
        out.contains(
            "INFO login rip=127.0.0.1 user=\"alice\" master=\"keeper\" protocol=\"imap\" \
             mechanism=\"SCRAM-SHA-256\"",
        )
        .then_some(())
    });
    for (gs2, user) in [("n,,", "alice*bob"), ("n,a=alice,", "bob")] {
        let (_client, reply) = scram(gs2, user, "bob-secret");
        assert_eq!(reply.status(), Status::No, "SCRAM {gs2}{user}: {reply:?}");
        assert!(reply.has_code("AUTHENTICATIONFAILED"), "{reply:?}");
    }
}
