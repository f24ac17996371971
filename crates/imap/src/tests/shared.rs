//! The shared namespace: other owners' mailboxes as `shared.<owner>.M`,
//! reached through those owners' storage with the user's ticket (their
//! storage decides by their ACLs), NAMESPACE, LIST's containers, and
//! COPY/MOVE between owners.

use std::time::Duration;

use mailkeep_testkit::{Client, Reply, Services, Status};
use tokio::io::DuplexStream;

use super::{USER, login, login_as, message, ok, process, services};
use crate::settings::ImapSettings;

/// Long enough for anything that should arrive; never waited out when it
/// does.
pub(super) const WAIT: Duration = Duration::from_secs(20);

/// The second user, who is shared with.
pub(super) const BOB: &str = "bob";
pub(super) const BOB_PASSWORD: &str = "bobsecret";

/// Services with alice (the tests' user) and bob.
pub(super) async fn two_users() -> Services {
    let services = services().await;
    services
        .add_user(BOB, BOB_PASSWORD)
        .await
        .expect("adding bob");
    services
}

/// The names a LIST reply lists.
fn names(reply: &Reply) -> Vec<String> {
    reply.list("LIST").into_iter().map(|l| l.name).collect()
}

/// The attributes of `name` in a LIST reply.
fn attributes(reply: &Reply, name: &str) -> Vec<String> {
    reply
        .list("LIST")
        .into_iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("{name} not listed: {reply:?}"))
        .attributes
}

/// Runs a command that must fail with NO and `code`.
pub(super) async fn no(client: &mut Client<DuplexStream>, command: &str, code: &str) -> Reply {
    let reply = client.run(command).await.expect(command);
    assert_eq!(reply.status(), Status::No, "{command}: {reply:?}");
    assert!(reply.has_code(code), "{command}: want {code}: {reply:?}");
    reply
}

#[tokio::test]
async fn namespace_names_the_shared_prefix() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = ok(&mut c, "NAMESPACE").await;
    assert_eq!(
        reply.responses[0].text(),
        "* NAMESPACE ((\"\" \".\")) ((\"shared.\" \".\")) NIL"
    );
}

#[tokio::test]
async fn shared_names_without_sharers_reach_nothing() {
    let services = two_users().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = ok(&mut c, "LIST \"\" \"*\"").await;
    assert!(
        !names(&reply).iter().any(|n| n.starts_with("shared")),
        "{reply:?}"
    );
    // The root is no mailbox; an owner who shares nothing has no
    // container or mailbox here; a destination there is TRYCREATE.
    no(&mut c, "SELECT shared", "CANNOT").await;
    no(&mut c, "EXAMINE shared.bob", "NONEXISTENT").await;
    no(&mut c, "SELECT shared.bob.INBOX", "NONEXISTENT").await;
    no(&mut c, "STATUS shared.bob.INBOX (MESSAGES)", "NONEXISTENT").await;
    no(&mut c, "MYRIGHTS shared.bob.INBOX", "NONEXISTENT").await;
    no(&mut c, "CREATE shared.bob.New", "NONEXISTENT").await;
    no(&mut c, "CREATE shared", "CANNOT").await;
    let reply = c
        .append("shared.bob.INBOX", &[], &message("x", "y"))
        .await
        .unwrap();
    assert!(reply.has_code("TRYCREATE"), "{reply:?}");
    let appended = c.append("INBOX", &[], &message("x", "y")).await.unwrap();
    assert!(appended.is_ok(), "{appended:?}");
    ok(&mut c, "SELECT INBOX").await;
    no(&mut c, "COPY 1:* shared.bob.INBOX", "TRYCREATE").await;
    // SUBSCRIBE keeps any name in the user's own store.
    ok(&mut c, "SUBSCRIBE shared.bob.INBOX").await;
    let reply = ok(&mut c, "LSUB \"\" \"*\"").await;
    let subscribed: Vec<String> = reply.list("LSUB").into_iter().map(|l| l.name).collect();
    assert_eq!(subscribed, ["shared.bob.INBOX"], "{reply:?}");
    // Nobody was asked for bob's mailboxes.
    assert_eq!(services.attaches(BOB), 0);
}

#[tokio::test]
async fn list_asks_for_sharers_only_when_a_pattern_reaches_them() {
    let services = two_users().await;
    services.set_sharing_owners(USER, &[BOB]);
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let asked = services.sharing_asks(USER);
    for pattern in ["INBOX", "INBOX*", "Sent.%", "x*"] {
        ok(&mut c, &format!("LIST \"\" \"{pattern}\"")).await;
    }
    ok(&mut c, "STATUS INBOX (MESSAGES)").await;
    ok(&mut c, "SELECT INBOX").await;
    assert_eq!(
        services.sharing_asks(USER),
        asked,
        "no pattern reached shared"
    );
    // `%` reaches the root but no owner's mailboxes: the owners are asked
    // once, their storage never.
    let reply = ok(&mut c, "LIST \"\" \"%\"").await;
    assert_eq!(services.sharing_asks(USER), asked + 1);
    assert_eq!(services.attaches(BOB), 0);
    let root = attributes(&reply, "shared");
    assert!(root.iter().any(|a| a == "\\Noselect"), "{reply:?}");
    assert!(root.iter().any(|a| a == "\\HasChildren"), "{reply:?}");
    // Several patterns reaching it: still asked once per command.
    ok(&mut c, "LIST \"\" (\"shared.*\" \"*\" \"%\")").await;
    assert_eq!(services.sharing_asks(USER), asked + 2);
    // Bob shares nothing with alice: no owner container, no mailbox.
    let reply = ok(&mut c, "LIST \"\" \"*\"").await;
    assert!(
        !names(&reply).iter().any(|n| n.starts_with("shared.")),
        "{reply:?}"
    );
}

#[tokio::test]
async fn an_unreachable_owner_is_left_out() {
    let services = two_users().await;
    // "ghost" is no user: the connector refuses to attach to it.
    services.set_sharing_owners(USER, &["ghost"]);
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = ok(&mut c, "LIST \"\" \"*\"").await;
    assert!(names(&reply).contains(&"INBOX".to_owned()), "{reply:?}");
    assert!(
        !names(&reply).iter().any(|n| n.starts_with("shared")),
        "{reply:?}"
    );
    no(&mut c, "SELECT shared.ghost.INBOX", "NONEXISTENT").await;
    no(
        &mut c,
        "STATUS shared.ghost.INBOX (MESSAGES)",
        "NONEXISTENT",
    )
    .await;
    let reply = c
        .append("shared.ghost.INBOX", &[], &message("x", "y"))
        .await
        .unwrap();
    assert!(reply.has_code("TRYCREATE"), "{reply:?}");
    // The user's own mail is not affected.
    ok(&mut c, "SELECT INBOX").await;
}

/// Alice has `Projects` with one message and grants bob `rights` on it;
/// the broker's hint names alice to bob. Bob's client, logged in.
pub(super) async fn shared_by_alice(services: &Services, rights: &str) -> Client<DuplexStream> {
    let process = process(services, ImapSettings::default());
    let mut alice = login(&process).await;
    ok(&mut alice, "CREATE Projects").await;
    let appended = alice
        .append("Projects", &["\\Flagged"], &message("plan", "the plan"))
        .await
        .unwrap();
    assert!(appended.is_ok(), "{appended:?}");
    ok(&mut alice, &format!("SETACL Projects {BOB} {rights}")).await;
    services.set_sharing_owners(BOB, &[USER]);
    login_as(&process, BOB, BOB_PASSWORD).await
}

#[tokio::test]
async fn a_granted_mailbox_is_listed_read_but_not_changed() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    let reply = ok(&mut bob, "LIST \"\" \"*\"").await;
    let listed = names(&reply);
    for name in ["INBOX", "shared", "shared.alice", "shared.alice.Projects"] {
        assert!(listed.contains(&name.to_owned()), "{name}: {reply:?}");
    }
    // Alice's INBOX is not shared with bob: not listed, not selectable.
    assert!(
        !listed.contains(&"shared.alice.INBOX".to_owned()),
        "{reply:?}"
    );
    let container = attributes(&reply, "shared.alice");
    assert!(container.iter().any(|a| a == "\\Noselect"), "{reply:?}");
    let reply = ok(&mut bob, "LIST \"\" \"shared.alice.%\" RETURN (MYRIGHTS)").await;
    assert!(
        reply.responses.iter().any(|r| r
            .text()
            .ends_with("shared.alice.Projects (\"MYRIGHTS\" \"lr\")")),
        "{reply:?}"
    );
    let reply = ok(&mut bob, "MYRIGHTS shared.alice.Projects").await;
    assert_eq!(
        reply.untagged("MYRIGHTS").next().expect("MYRIGHTS").words(),
        ["shared.alice.Projects", "lr"]
    );
    let reply = ok(&mut bob, "STATUS shared.alice.Projects (MESSAGES)").await;
    assert_eq!(reply.status_item("MESSAGES"), Some(1), "{reply:?}");
    no(&mut bob, "SELECT shared.alice.INBOX", "NONEXISTENT").await;
    // With no right to change anything, the mailbox is read-only (RFC
    // 4314 §5.2: a MUST; it said READ-WRITE).
    let reply = ok(&mut bob, "SELECT shared.alice.Projects").await;
    assert!(reply.has_code("READ-ONLY"), "{reply:?}");
    let reply = ok(&mut bob, "FETCH 1 (FLAGS BODY.PEEK[])").await;
    let fetch = reply.fetch(1).expect("FETCH 1");
    assert!(fetch.has_flag("\\Flagged"), "{reply:?}");
    assert_eq!(
        fetch.bytes("BODY[]"),
        Some(&message("plan", "the plan")[..])
    );
    let reply = ok(&mut bob, "UID SEARCH ALL").await;
    assert_eq!(reply.search(), [1], "{reply:?}");
    no(&mut bob, "STORE 1 +FLAGS (\\Seen)", "NOPERM").await;
    no(
        &mut bob,
        "SETACL shared.alice.Projects bob lrswipkxtea",
        "NOPERM",
    )
    .await;
    // Bob's own mailboxes are his as before.
    ok(&mut bob, "STATUS INBOX (MESSAGES)").await;
}

#[tokio::test]
async fn copy_out_of_a_shared_mailbox_into_ones_own() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "SELECT shared.alice.Projects").await;
    let reply = ok(&mut bob, "UID COPY 1 INBOX").await;
    let (_, source, new) = reply.copyuid().expect("COPYUID");
    assert_eq!((source, new), (vec![1], vec![1]), "{reply:?}");
    // Without the rights to remove them, a MOVE copies nothing.
    no(&mut bob, "MOVE 1 INBOX", "NOPERM").await;
    ok(&mut bob, "SELECT INBOX").await;
    let reply = ok(&mut bob, "FETCH 1:* (FLAGS BODY.PEEK[])").await;
    assert_eq!(reply.fetches().len(), 1, "{reply:?}");
    let fetch = reply.fetch(1).expect("FETCH 1");
    assert!(fetch.has_flag("\\Flagged"), "{reply:?}");
    assert_eq!(
        fetch.bytes("BODY[]"),
        Some(&message("plan", "the plan")[..])
    );
    // And into alice's mailbox bob may not insert into.
    no(&mut bob, "COPY 1 shared.alice.Projects", "NOPERM").await;
}

#[tokio::test]
async fn move_between_owners_both_ways() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lrswited").await;
    ok(&mut bob, "SELECT shared.alice.Projects").await;
    let reply = ok(&mut bob, "MOVE 1 INBOX").await;
    assert_eq!(reply.expunged(), [1], "{reply:?}");
    let reply = ok(&mut bob, "STATUS shared.alice.Projects (MESSAGES)").await;
    assert_eq!(reply.status_item("MESSAGES"), Some(0), "{reply:?}");
    let reply = ok(&mut bob, "STATUS INBOX (MESSAGES)").await;
    assert_eq!(reply.status_item("MESSAGES"), Some(1), "{reply:?}");
    // And back, from bob's own INBOX into alice's mailbox.
    ok(&mut bob, "SELECT INBOX").await;
    let reply = ok(&mut bob, "MOVE 1 shared.alice.Projects").await;
    assert_eq!(reply.expunged(), [1], "{reply:?}");
    let reply = ok(&mut bob, "STATUS shared.alice.Projects (MESSAGES)").await;
    assert_eq!(reply.status_item("MESSAGES"), Some(1), "{reply:?}");
    // APPEND into it works with `i`, and lands in alice's store.
    let reply = bob
        .append("shared.alice.Projects", &[], &message("more", "x"))
        .await
        .unwrap();
    assert!(reply.is_ok(), "{reply:?}");
    let reply = ok(&mut bob, "STATUS shared.alice.Projects (MESSAGES)").await;
    assert_eq!(reply.status_item("MESSAGES"), Some(2), "{reply:?}");
}

#[tokio::test]
async fn changes_in_a_selected_shared_mailbox_reach_notify() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "SELECT shared.alice.Projects").await;
    ok(
        &mut bob,
        "NOTIFY SET (selected (MessageNew MessageExpunge))",
    )
    .await;
    // Alice adds a message to her mailbox, through her own session.
    let process = process(&services, ImapSettings::default());
    let mut alice = login(&process).await;
    let appended = alice
        .append("Projects", &[], &message("news", "x"))
        .await
        .unwrap();
    assert!(appended.is_ok(), "{appended:?}");
    let exists = tokio::time::timeout(WAIT, async {
        loop {
            let r = bob.read_response().await.expect("a notification");
            if r.text() == "* 2 EXISTS" {
                return r;
            }
        }
    })
    .await;
    assert!(exists.is_ok(), "no EXISTS for the shared mailbox");
}

#[tokio::test]
async fn idle_on_a_shared_mailbox_sees_the_owners_changes() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "SELECT shared.alice.Projects").await;
    let mut idle = bob.idle().await.expect("IDLE");
    let process = process(&services, ImapSettings::default());
    let mut alice = login(&process).await;
    ok(&mut alice, "SELECT Projects").await;
    ok(&mut alice, "STORE 1 +FLAGS (\\Answered)").await;
    tokio::time::timeout(WAIT, idle.wait_for(|r| r.text().contains("\\Answered")))
        .await
        .expect("FETCH FLAGS while idling")
        .expect("the idle stream");
    ok(&mut alice, "STORE 1 +FLAGS (\\Deleted)").await;
    ok(&mut alice, "EXPUNGE").await;
    tokio::time::timeout(WAIT, idle.wait_for(|r| r.text() == "* 1 EXPUNGE"))
        .await
        .expect("EXPUNGE while idling")
        .expect("the idle stream");
    let reply = idle.done().await.expect("DONE");
    assert!(reply.is_ok(), "{reply:?}");
}

#[tokio::test]
async fn status_subscriptions_and_renames_in_the_shared_namespace() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lrk").await;
    ok(&mut bob, "SUBSCRIBE shared.alice.Projects").await;
    let reply = ok(
        &mut bob,
        "LIST (SUBSCRIBED) \"\" \"shared.*\" RETURN (STATUS (MESSAGES))",
    )
    .await;
    let projects = attributes(&reply, "shared.alice.Projects");
    assert!(projects.iter().any(|a| a == "\\Subscribed"), "{reply:?}");
    assert!(!projects.iter().any(|a| a == "\\NonExistent"), "{reply:?}");
    assert!(
        reply
            .responses
            .iter()
            .any(|r| r.text() == "* STATUS shared.alice.Projects (MESSAGES 1)"),
        "{reply:?}"
    );
    // `k` lets bob make a mailbox in alice's store under Projects; a
    // rename never crosses owners.
    ok(&mut bob, "CREATE shared.alice.Projects.Sub").await;
    let process = process(&services, ImapSettings::default());
    let mut alice = login(&process).await;
    let reply = ok(&mut alice, "LIST \"\" \"Projects.*\"").await;
    assert_eq!(names(&reply), ["Projects.Sub"], "{reply:?}");
    no(&mut bob, "RENAME shared.alice.Projects.Sub Mine", "CANNOT").await;
    no(
        &mut bob,
        "RENAME INBOX shared.alice.Projects.Mine",
        "CANNOT",
    )
    .await;
}

#[tokio::test]
async fn owner_names_with_dots_resolve_to_the_longest_owner() {
    let services = two_users().await;
    for user in ["carol", "carol.x"] {
        services.add_user(user, "c-secret").await.expect("a user");
    }
    let process = process(&services, ImapSettings::default());
    for (user, mailbox) in [("carol", "x"), ("carol", "x.Box"), ("carol.x", "Box")] {
        let mut owner = login_as(&process, user, "c-secret").await;
        ok(&mut owner, &format!("CREATE {mailbox}")).await;
        let message = message(user, user);
        let reply = owner.append(mailbox, &[], &message).await.unwrap();
        assert!(reply.is_ok(), "{reply:?}");
        ok(&mut owner, &format!("SETACL {mailbox} {BOB} lr")).await;
    }
    services.set_sharing_owners(BOB, &["carol", "carol.x"]);
    let mut bob = login_as(&process, BOB, BOB_PASSWORD).await;
    // Both owners' mailboxes have the same client name; the longer owner
    // wins, and the other's stays reachable only through LIST's view.
    ok(&mut bob, "SELECT shared.carol.x.Box").await;
    let reply = ok(&mut bob, "FETCH 1 BODY.PEEK[]").await;
    let fetch = reply.fetch(1).expect("FETCH 1");
    assert_eq!(
        fetch.bytes("BODY[]"),
        Some(&message("carol.x", "carol.x")[..])
    );
    let reply = ok(&mut bob, "LIST \"\" \"shared.carol*\"").await;
    let listed = names(&reply);
    for name in ["shared.carol", "shared.carol.x", "shared.carol.x.Box"] {
        assert!(listed.contains(&name.to_owned()), "{name}: {reply:?}");
    }
    // carol's mailbox `x` and the container of carol.x share a name: the
    // container it is, in LIST and in SELECT alike.
    let container = attributes(&reply, "shared.carol.x");
    assert!(container.iter().any(|a| a == "\\Noselect"), "{reply:?}");
    no(&mut bob, "SELECT shared.carol.x", "CANNOT").await;
}

/// PERMANENTFLAGS at a guest's SELECT lists the flags its rights let it
/// change (RFC 4314 §4): `\Seen` with `s`, `\Deleted` with `t`, the others
/// and `\*` with `w`. It listed every flag and `\*` whatever the rights,
/// and a client offered changes that storage then refused.
#[tokio::test]
async fn a_guest_is_offered_the_flags_its_rights_allow() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lrs").await;
    let mut alice = login(&process(&services, ImapSettings::default())).await;
    let permanent = |reply: &Reply| {
        reply
            .responses
            .iter()
            .map(|r| r.text())
            .find(|t| t.contains("[PERMANENTFLAGS"))
            .unwrap_or_else(|| panic!("no PERMANENTFLAGS: {reply:?}"))
    };
    for (rights, offered) in [
        ("lrs", "[PERMANENTFLAGS (\\Seen)]"),
        ("lrst", "[PERMANENTFLAGS (\\Deleted \\Seen)]"),
        (
            "lrswt",
            "[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]",
        ),
    ] {
        ok(&mut alice, &format!("SETACL Projects {BOB} {rights}")).await;
        let reply = ok(&mut bob, "SELECT shared.alice.Projects").await;
        assert!(permanent(&reply).contains(offered), "{rights}: {reply:?}");
        // A flag it may change makes the mailbox read-write.
        assert!(reply.has_code("READ-WRITE"), "{rights}: {reply:?}");
    }
    // Inserting alone as well (RFC 4314 §5.2).
    ok(&mut alice, &format!("SETACL Projects {BOB} lri")).await;
    let reply = ok(&mut bob, "SELECT shared.alice.Projects").await;
    assert!(reply.has_code("READ-WRITE"), "{reply:?}");
    // The owner is offered everything.
    let reply = ok(&mut alice, "SELECT Projects").await;
    assert!(permanent(&reply).contains("\\Draft \\*)]"), "{reply:?}");
}

/// A guest who may read but not keep `\Seen` (no `s` right) reads a body
/// with FETCH BODY[] and the message stays unseen (RFC 4314 §4); the
/// FETCH failed with `NO [NOPERM]`, the implicit `\Seen` being refused.
/// With `s`, the same FETCH marks it seen.
#[tokio::test]
async fn reading_without_the_seen_right_leaves_the_message_unseen() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "SELECT shared.alice.Projects").await;
    let reply = ok(&mut bob, "FETCH 1 (BODY[])").await;
    let f = reply.fetch(1).expect("FETCH 1");
    assert!(
        f.bytes("BODY[]")
            .is_some_and(|b| b.windows(8).any(|w| w == b"the plan")),
        "{reply:?}"
    );
    let reply = ok(&mut bob, "FETCH 1 (FLAGS)").await;
    assert!(
        !reply.fetch(1).expect("FETCH 1").has_flag("\\Seen"),
        "{reply:?}"
    );

    let mut alice = login(&process(&services, ImapSettings::default())).await;
    ok(&mut alice, &format!("SETACL Projects {BOB} lrs")).await;
    ok(&mut bob, "SELECT shared.alice.Projects").await;
    ok(&mut bob, "FETCH 1 (BODY[])").await;
    let reply = ok(&mut bob, "FETCH 1 (FLAGS)").await;
    assert!(
        reply.fetch(1).expect("FETCH 1").has_flag("\\Seen"),
        "{reply:?}"
    );
}
