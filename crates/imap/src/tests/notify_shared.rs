//! NOTIFY (RFC 5465) on other owners' mailboxes that are not selected:
//! named by MAILBOXES, SUBTREE or SUBSCRIBED in the shared and public
//! namespaces, each watched at its owner's storage (which decides, by its
//! ACLs, what the user may watch), and reported as STATUS.

use mailkeep_testkit::{Client, Response, Services};
use tokio::io::DuplexStream;

use super::shared::{BOB, BOB_PASSWORD, WAIT, shared_by_alice, two_users};
use super::{USER, login, login_as, message, ok, process};
use crate::settings::ImapSettings;

/// Reads unsolicited responses until one's text starts with `start`;
/// returns it and everything read before it.
async fn until(client: &mut Client<DuplexStream>, start: &str) -> (Response, Vec<Response>) {
    let mut before = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let r = client.read_response().await.expect("a notification");
            if r.text().starts_with(start) {
                return r;
            }
            before.push(r);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {start:?}; read {before:?}"));
    (found, before)
}

/// Alice appends a message to her `mailbox`, in a session of her own.
async fn alice_appends(services: &Services, mailbox: &str) {
    let process = process(services, ImapSettings::default());
    let mut alice = login(&process).await;
    let appended = alice
        .append(mailbox, &[], &message("news", "x"))
        .await
        .unwrap();
    assert!(appended.is_ok(), "{appended:?}");
}

#[tokio::test]
async fn notify_reports_a_shared_mailbox_that_is_not_selected() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "CREATE Mine").await;
    ok(&mut bob, "SELECT INBOX").await;
    // Alice's INBOX is not shared with bob, and nobody is no owner: they
    // are not watched, and do not break the command.
    let reply = ok(
        &mut bob,
        "NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) \
         (mailboxes (shared.alice.Projects shared.alice.INBOX shared.nobody.X) \
         (MessageNew MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge))",
    )
    .await;
    let now = reply.lines_of("STATUS");
    assert!(
        now.iter()
            .any(|s| s.starts_with("* STATUS shared.alice.Projects (MESSAGES 1 ")),
        "{reply:?}"
    );
    assert!(
        !now.iter().any(|s| s.contains("shared.alice.INBOX")),
        "{now:?}"
    );
    assert!(!now.iter().any(|s| s.contains("nobody")), "{now:?}");
    assert!(
        now.iter().any(|s| s.starts_with("* STATUS Mine ")),
        "{now:?}"
    );
    // The selected mailbox is none of them.
    assert!(
        !now.iter().any(|s| s.starts_with("* STATUS INBOX ")),
        "{now:?}"
    );

    alice_appends(&services, "INBOX").await;
    alice_appends(&services, "Projects").await;
    let (status, before) = until(&mut bob, "* STATUS shared.alice.Projects").await;
    assert!(status.text().contains("MESSAGES 2"), "{}", status.text());
    assert!(
        !before
            .iter()
            .any(|r| r.text().contains("shared.alice.INBOX")),
        "{before:?}"
    );

    // A flag change is one of the events asked for.
    let process = process(&services, ImapSettings::default());
    let mut alice = login(&process).await;
    ok(&mut alice, "SELECT Projects").await;
    ok(&mut alice, "STORE 1 +FLAGS (\\Answered)").await;
    until(&mut bob, "* STATUS shared.alice.Projects").await;

    // Bob's own mailboxes still notify.
    let mut other = login_as(&process, BOB, BOB_PASSWORD).await;
    let appended = other.append("Mine", &[], &message("m", "x")).await.unwrap();
    assert!(appended.is_ok(), "{appended:?}");
    let (status, _) = until(&mut bob, "* STATUS Mine ").await;
    assert!(status.text().contains("MESSAGES 1"), "{}", status.text());
    let appended = other
        .append("INBOX", &[], &message("i", "x"))
        .await
        .unwrap();
    assert!(appended.is_ok(), "{appended:?}");
    until(&mut bob, "* 1 EXISTS").await;
    ok(&mut bob, "NOTIFY NONE").await;
}

#[tokio::test]
async fn notify_subtree_of_an_owner_reports_what_it_shares_only() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    let reply = ok(
        &mut bob,
        "NOTIFY SET STATUS (subtree shared.alice (MessageNew MessageExpunge MailboxName))",
    )
    .await;
    let now = reply.lines_of("STATUS");
    assert_eq!(now.len(), 1, "{reply:?}");
    assert!(
        now[0].starts_with("* STATUS shared.alice.Projects (MESSAGES 1 "),
        "{now:?}"
    );
    // Alice's mailbox list is hers: a mailbox she makes (and does not
    // share) is not announced, ahead of the change that is.
    let process = process(&services, ImapSettings::default());
    let mut alice = login(&process).await;
    ok(&mut alice, "CREATE Secret").await;
    alice_appends(&services, "Projects").await;
    let (status, before) = until(&mut bob, "* STATUS shared.alice.Projects").await;
    assert!(status.text().contains("MESSAGES 2"), "{}", status.text());
    assert!(
        !before.iter().any(|r| r.text().contains("Secret")),
        "{before:?}"
    );
}

#[tokio::test]
async fn notify_subscribed_covers_subscribed_shared_mailboxes() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "SUBSCRIBE shared.alice.Projects").await;
    ok(
        &mut bob,
        "NOTIFY SET (subscribed (MessageNew MessageExpunge))",
    )
    .await;
    alice_appends(&services, "Projects").await;
    let (status, _) = until(&mut bob, "* STATUS shared.alice.Projects").await;
    assert!(status.text().contains("MESSAGES 2"), "{}", status.text());
}

#[tokio::test]
async fn subscribing_while_notify_is_on_starts_watching() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(
        &mut bob,
        "NOTIFY SET (subscribed (MessageNew MessageExpunge SubscriptionChange))",
    )
    .await;
    let reply = ok(&mut bob, "SUBSCRIBE shared.alice.Projects").await;
    // The subscription's LIST goes out once the mailbox is watched (while
    // the command runs, or after it).
    let listed = |r: &Response| r.text().starts_with("* LIST") && r.text().contains("Projects");
    if !reply.responses.iter().any(listed) {
        let (list, _) = until(&mut bob, "* LIST").await;
        assert!(listed(&list), "{}", list.text());
    }
    alice_appends(&services, "Projects").await;
    let (status, _) = until(&mut bob, "* STATUS shared.alice.Projects").await;
    assert!(status.text().contains("MESSAGES 2"), "{}", status.text());
}

#[tokio::test]
async fn notify_without_shared_names_asks_no_other_owner() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    let asked = services.sharing_asks(BOB);
    let attached = services.attaches(USER);
    ok(
        &mut bob,
        "NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge MailboxName)) \
         (subtree Lists (MessageNew MessageExpunge)) (mailboxes INBOX (MessageNew MessageExpunge))",
    )
    .await;
    assert_eq!(services.sharing_asks(BOB), asked);
    assert_eq!(services.attaches(USER), attached);
}

#[tokio::test]
async fn an_unreachable_owner_does_not_break_notify() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    // "ghost" is no user: its storage cannot be reached.
    services.set_sharing_owners(BOB, &[USER, "ghost"]);
    let reply = ok(
        &mut bob,
        "NOTIFY SET STATUS (mailboxes shared.ghost.INBOX (MessageNew MessageExpunge)) \
         (subtree shared (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge))",
    )
    .await;
    let now = reply.lines_of("STATUS");
    assert!(!now.iter().any(|s| s.contains("ghost")), "{now:?}");
    assert!(
        now.iter()
            .any(|s| s.starts_with("* STATUS shared.alice.Projects ")),
        "{now:?}"
    );
    let process = process(&services, ImapSettings::default());
    let mut other = login_as(&process, BOB, BOB_PASSWORD).await;
    let appended = other
        .append("INBOX", &[], &message("i", "x"))
        .await
        .unwrap();
    assert!(appended.is_ok(), "{appended:?}");
    let (status, _) = until(&mut bob, "* STATUS INBOX ").await;
    assert!(status.text().contains("MESSAGES 1"), "{}", status.text());
    alice_appends(&services, "Projects").await;
    until(&mut bob, "* STATUS shared.alice.Projects").await;
}

#[tokio::test]
async fn a_selected_shared_mailbox_gets_no_status() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "SELECT shared.alice.Projects").await;
    let reply = ok(
        &mut bob,
        "NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) (subtree shared.alice (MessageNew MessageExpunge))",
    )
    .await;
    assert_eq!(reply.lines_of("STATUS"), Vec::<String>::new(), "{reply:?}");
    alice_appends(&services, "Projects").await;
    let (_, before) = until(&mut bob, "* 2 EXISTS").await;
    assert!(
        !before.iter().any(|r| r.text().starts_with("* STATUS")),
        "{before:?}"
    );
}

#[tokio::test]
async fn notify_on_the_public_namespace() {
    let services = two_users().await;
    let _ = shared_by_alice(&services, "lr").await;
    let settings = ImapSettings {
        public_owner: USER.to_owned(),
        ..ImapSettings::default()
    };
    let public = process(&services, settings);
    let mut bob = login_as(&public, BOB, BOB_PASSWORD).await;
    let reply = ok(
        &mut bob,
        "NOTIFY SET STATUS (subtree Public (MessageNew MessageExpunge))",
    )
    .await;
    let now = reply.lines_of("STATUS");
    assert!(
        now.iter()
            .any(|s| s.starts_with("* STATUS Public.Projects (MESSAGES 1 ")),
        "{reply:?}"
    );
    alice_appends(&services, "Projects").await;
    let (status, _) = until(&mut bob, "* STATUS Public.Projects").await;
    assert!(status.text().contains("MESSAGES 2"), "{}", status.text());
}

/// Whether `r` is the LIST line of `name` (with `attribute` among its
/// attributes, when one is given).
fn is_list(r: &Response, name: &str, attribute: Option<&str>) -> bool {
    let text = r.text();
    text.starts_with("* LIST")
        && (text.contains(&format!(" {name}\r\n"))
            || text.contains(&format!(" {name} "))
            || text.ends_with(&format!(" {name}"))
            || text.contains(&format!(" \"{name}\"")))
        && attribute.is_none_or(|a| text.contains(a))
}

/// Reads unsolicited responses until the LIST line of `name`; returns it
/// and everything read before it.
async fn until_list(
    client: &mut Client<DuplexStream>,
    name: &str,
    attribute: Option<&str>,
) -> (Response, Vec<Response>) {
    let mut before = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let r = client.read_response().await.expect("a notification");
            if is_list(&r, name, attribute) {
                return r;
            }
            before.push(r);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no LIST {name}; read {before:?}"));
    (found, before)
}

/// RFC 5465 MailboxName on the shared namespace: mailboxes the owner
/// creates under a shared one (which inherit its ACL), renames and
/// deletes, and those a grant shows or a revocation hides, arrive as
/// LIST; a mailbox the user may not see is never named.
#[tokio::test]
async fn notify_reports_shared_mailbox_names_as_the_user_sees_them() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(
        &mut bob,
        "NOTIFY SET (subtree shared (MessageNew MessageExpunge MailboxName))",
    )
    .await;
    let process = process(&services, ImapSettings::default());
    let mut alice = login(&process).await;

    ok(&mut alice, "CREATE Secret").await;
    ok(&mut alice, "CREATE Projects.2026").await;
    let (_, before) = until_list(&mut bob, "shared.alice.Projects.2026", None).await;
    assert!(
        !before.iter().any(|r| r.text().contains("Secret")),
        "{before:?}"
    );

    ok(&mut alice, "RENAME Projects.2026 Projects.2027").await;
    let (renamed, _) = until_list(&mut bob, "shared.alice.Projects.2027", None).await;
    assert!(
        renamed.text().contains("OLDNAME") && renamed.text().contains("shared.alice.Projects.2026"),
        "{}",
        renamed.text()
    );
    ok(&mut alice, "DELETE Projects.2027").await;
    until_list(
        &mut bob,
        "shared.alice.Projects.2027",
        Some("\\NonExistent"),
    )
    .await;

    // A grant shows a mailbox, a revocation hides it.
    ok(&mut alice, &format!("SETACL Secret {BOB} lr")).await;
    until_list(&mut bob, "shared.alice.Secret", None).await;
    alice_appends(&services, "Secret").await;
    let (status, _) = until(&mut bob, "* STATUS shared.alice.Secret").await;
    assert!(status.text().contains("MESSAGES 1"), "{}", status.text());
    ok(&mut alice, &format!("DELETEACL Secret {BOB}")).await;
    until_list(&mut bob, "shared.alice.Secret", Some("\\NonExistent")).await;
}

/// An owner's storage that goes away (a crash) does not end the user's
/// notifications of that owner for good: the stream starts again, and
/// what changed meanwhile is told (the list's difference, STATUS).
#[tokio::test]
async fn a_shared_owners_stream_starts_again_after_its_storage_stopped() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(
        &mut bob,
        "NOTIFY SET (subtree shared.alice (MessageNew MessageExpunge MailboxName))",
    )
    .await;
    assert!(services.stop_storage(USER).await, "alice's storage ran");
    let process = process(&services, ImapSettings::default());
    let mut alice = login(&process).await;
    ok(&mut alice, "CREATE Projects.After").await;
    until_list(&mut bob, "shared.alice.Projects.After", None).await;
    alice_appends(&services, "Projects").await;
    let (status, _) = until(&mut bob, "* STATUS shared.alice.Projects ").await;
    assert!(status.text().contains("MESSAGES 2"), "{}", status.text());
    // And once more: not only the first stop is survived.
    assert!(
        services.stop_storage(USER).await,
        "alice's storage ran again"
    );
    let mut alice = login(&process).await;
    ok(&mut alice, "DELETE Projects.After").await;
    until_list(
        &mut bob,
        "shared.alice.Projects.After",
        Some("\\NonExistent"),
    )
    .await;
}

/// The user's subscriptions to other owners' mailboxes are not personal
/// (RFC 5465 §6): PERSONAL does not report them, a subtree of the shared
/// namespace does.
#[tokio::test]
async fn subscriptions_to_shared_mailboxes_are_not_personal() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "CREATE Mine").await;
    ok(&mut bob, "NOTIFY SET (personal (SubscriptionChange))").await;
    // The LIST may come with the command's reply or after it.
    let mut heard = ok(&mut bob, "SUBSCRIBE shared.alice.Projects")
        .await
        .responses;
    heard.extend(ok(&mut bob, "SUBSCRIBE Mine").await.responses);
    if !heard
        .iter()
        .any(|r| is_list(r, "Mine", Some("\\Subscribed")))
    {
        let (list, before) = until_list(&mut bob, "Mine", Some("\\Subscribed")).await;
        heard.extend(before);
        heard.push(list);
    }
    assert!(
        !heard.iter().any(|r| r.text().contains("shared.alice")),
        "{heard:?}"
    );
    ok(&mut bob, "NOTIFY SET (subtree shared (SubscriptionChange))").await;
    let mut heard = ok(&mut bob, "UNSUBSCRIBE Mine").await.responses;
    heard.extend(
        ok(&mut bob, "UNSUBSCRIBE shared.alice.Projects")
            .await
            .responses,
    );
    if !heard
        .iter()
        .any(|r| is_list(r, "shared.alice.Projects", None))
    {
        let (list, before) = until_list(&mut bob, "shared.alice.Projects", None).await;
        heard.extend(before);
        heard.push(list);
    }
    assert!(!heard.iter().any(|r| is_list(r, "Mine", None)), "{heard:?}");
}

/// An owner who shares with the user for the first time after NOTIFY SET
/// is picked up when the sharing owners are asked again, and what they
/// share arrives as LIST (the refresh is made short here; the wait is
/// bounded, not a pause).
#[tokio::test]
async fn an_owner_sharing_after_notify_set_is_picked_up() {
    let services = two_users().await;
    let _ = shared_by_alice(&services, "lr").await;
    services.add_user("carol", "c-secret").await.unwrap();
    let settings = ImapSettings {
        notify_owners_refresh: std::time::Duration::from_millis(20),
        ..ImapSettings::default()
    };
    let quick = process(&services, settings);
    let mut bob = login_as(&quick, BOB, BOB_PASSWORD).await;
    ok(
        &mut bob,
        "NOTIFY SET (subtree shared (MessageNew MessageExpunge MailboxName))",
    )
    .await;
    let mut carol = login_as(&quick, "carol", "c-secret").await;
    ok(&mut carol, "CREATE Team").await;
    ok(&mut carol, "CREATE Hers").await;
    ok(&mut carol, &format!("SETACL Team {BOB} lr")).await;
    services.set_sharing_owners(BOB, &[USER, "carol"]);
    let (_, before) = until_list(&mut bob, "shared.carol.Team", None).await;
    assert!(
        !before.iter().any(|r| r.text().contains("Hers")),
        "{before:?}"
    );
    // Watched from now on.
    let appended = carol.append("Team", &[], &message("t", "x")).await.unwrap();
    assert!(appended.is_ok(), "{appended:?}");
    let (status, _) = until(&mut bob, "* STATUS shared.carol.Team").await;
    assert!(status.text().contains("MESSAGES 1"), "{}", status.text());
}

/// The selected shared mailbox's change stream starts again after its
/// owner's storage went away: under NOTIFY (which has no polling), the
/// owner's new mail after the restart still reaches the user.
#[tokio::test]
async fn a_selected_shared_mailbox_is_followed_again_after_its_storage_stopped() {
    let services = two_users().await;
    let mut bob = shared_by_alice(&services, "lr").await;
    ok(&mut bob, "SELECT shared.alice.Projects").await;
    ok(
        &mut bob,
        "NOTIFY SET (selected (MessageNew MessageExpunge))",
    )
    .await;
    assert!(services.stop_storage(USER).await, "alice's storage ran");
    alice_appends(&services, "Projects").await;
    until(&mut bob, "* 2 EXISTS").await;
    // Once more: only a stream started again can tell of this one.
    alice_appends(&services, "Projects").await;
    until(&mut bob, "* 3 EXISTS").await;
}
