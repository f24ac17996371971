//! CREATE, DELETE, RENAME, SUBSCRIBE, LIST (extended, status), LSUB and
//! mailbox names (modified UTF-7, UTF8=ACCEPT, the names refused).

use mailkeep_testkit::Status;

use super::{login, message, ok, process, services};
use crate::settings::ImapSettings;

#[tokio::test]
async fn lsub_lists_subscriptions_and_list_extended_selects_them() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    for name in ["Work", "Work.Projects", "Play"] {
        ok(&mut c, &format!("CREATE {name}")).await;
    }
    ok(&mut c, "SUBSCRIBE Work.Projects").await;
    ok(&mut c, "SUBSCRIBE Gone").await;
    let reply = ok(&mut c, "LSUB \"\" *").await;
    let names: Vec<String> = reply.list("LSUB").into_iter().map(|l| l.name).collect();
    assert_eq!(names, vec!["Gone", "Work.Projects"], "{reply:?}");
    let reply = ok(&mut c, "LIST (SUBSCRIBED) \"\" *").await;
    let listed = reply.list("LIST");
    let gone = listed.iter().find(|l| l.name == "Gone").expect("Gone");
    assert!(
        gone.attributes.iter().any(|a| a == "\\NonExistent"),
        "{reply:?}"
    );
    assert!(
        gone.attributes.iter().any(|a| a == "\\Subscribed"),
        "{reply:?}"
    );
    assert!(!listed.iter().any(|l| l.name == "Play"), "{reply:?}");
    // RECURSIVEMATCH: Work is listed for its subscribed child.
    let reply = ok(&mut c, "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %").await;
    let text: Vec<String> = reply.responses.iter().map(|r| r.text()).collect();
    assert!(
        text.iter()
            .any(|l| l.contains("Work") && l.contains("CHILDINFO")),
        "{text:?}"
    );
    ok(&mut c, "UNSUBSCRIBE Gone").await;
    let reply = ok(&mut c, "LSUB \"\" *").await;
    assert_eq!(reply.list("LSUB").len(), 1, "{reply:?}");
}

#[tokio::test]
async fn list_status_and_special_use() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    ok(&mut c, "CREATE Outbox (USE (\\Sent))").await;
    assert!(
        c.append("Outbox", &[], &message("s", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    let reply = ok(&mut c, "LIST \"\" % RETURN (SPECIAL-USE STATUS (MESSAGES))").await;
    let listed = reply.list("LIST");
    let outbox = listed.iter().find(|l| l.name == "Outbox").expect("Outbox");
    assert!(outbox.attributes.iter().any(|a| a == "\\Sent"), "{reply:?}");
    let statuses = reply.lines_of("STATUS");
    assert!(
        statuses
            .iter()
            .any(|s| s.contains("Outbox") && s.contains("MESSAGES 1")),
        "{statuses:?}"
    );
    let reply = ok(&mut c, "LIST (SPECIAL-USE) \"\" *").await;
    let names: Vec<String> = reply.list("LIST").into_iter().map(|l| l.name).collect();
    assert!(names.contains(&"Outbox".to_string()), "{names:?}");
    assert!(!names.contains(&"INBOX".to_string()), "{names:?}");
    let reply = c.run("CREATE Bogus (USE (\\Nonsense))").await.unwrap();
    assert_eq!(reply.status(), Status::No, "{reply:?}");
    assert!(reply.has_code("USEATTR"), "{reply:?}");
}

#[tokio::test]
async fn delete_of_the_selected_mailbox_and_of_a_parent() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    ok(&mut c, "CREATE Old").await;
    ok(&mut c, "CREATE Parent").await;
    ok(&mut c, "CREATE Parent.Child").await;
    ok(&mut c, "SELECT Old").await;
    let reply = ok(&mut c, "DELETE Old").await;
    assert!(
        reply
            .untagged_status()
            .any(|s| s.code.as_ref().is_some_and(|c| c.is("CLOSED"))),
        "{reply:?}"
    );
    let reply = c.run("FETCH 1 FLAGS").await.unwrap();
    assert!(reply.text().contains("No mailbox selected"), "{reply:?}");
    let reply = c.run("DELETE Parent").await.unwrap();
    assert_eq!(reply.status(), Status::No, "{reply:?}");
    assert!(reply.has_code("HASCHILDREN"), "{reply:?}");
    let reply = c.run("DELETE INBOX").await.unwrap();
    assert_eq!(reply.status(), Status::No, "{reply:?}");
}

#[tokio::test]
async fn rename_keeps_the_selected_mailbox() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    ok(&mut c, "CREATE Before").await;
    assert!(
        c.append("Before", &[], &message("r", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    ok(&mut c, "SELECT Before").await;
    ok(&mut c, "RENAME Before After").await;
    let reply = ok(&mut c, "FETCH 1 (UID)").await;
    assert_eq!(reply.fetch(1).and_then(|f| f.uid()), Some(1), "{reply:?}");
    let reply = c.run("STATUS Before (MESSAGES)").await.unwrap();
    assert!(reply.has_code("NONEXISTENT"), "{reply:?}");
    // Below itself: refused with a reason (it said "Not possible").
    let reply = c.run("RENAME After After.Inside").await.unwrap();
    assert_eq!(reply.status(), Status::No, "{reply:?}");
    assert!(reply.has_code("CANNOT"), "{reply:?}");
    assert!(reply.tagged.text().contains("below itself"), "{reply:?}");
}

#[tokio::test]
async fn names_travel_in_modified_utf7_unless_utf8_is_enabled() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    // "été" in modified UTF-7.
    ok(&mut c, "CREATE &AOk-t&AOk-").await;
    let reply = ok(&mut c, "LIST \"\" *").await;
    assert!(
        reply.list("LIST").iter().any(|l| l.name == "&AOk-t&AOk-"),
        "{reply:?}"
    );
    let reply = c.run("CREATE \"caf\u{e9}\"").await.unwrap();
    assert_eq!(
        reply.status(),
        Status::Bad,
        "raw UTF-8 without UTF8=ACCEPT: {reply:?}"
    );
    let reply = c.run("CREATE &Jjo").await.unwrap();
    assert_eq!(
        reply.status(),
        Status::Bad,
        "invalid modified UTF-7: {reply:?}"
    );
    ok(&mut c, "ENABLE UTF8=ACCEPT").await;
    let reply = ok(&mut c, "LIST \"\" *").await;
    assert!(
        reply.list("LIST").iter().any(|l| l.name == "\u{e9}t\u{e9}"),
        "{reply:?}"
    );
    ok(&mut c, "CREATE \"caf\u{e9}\"").await;
}

#[tokio::test]
async fn bad_new_names_are_refused_with_a_reason() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    for name in ["a*b", "a%b", "a..b"] {
        let reply = c.run(&format!("CREATE \"{name}\"")).await.unwrap();
        assert_ne!(reply.status(), Status::Ok, "{name}: {reply:?}");
        assert!(!reply.has_code("SERVERBUG"), "{name}: {reply:?}");
    }
    let long = "x".repeat(255);
    let reply = c.run(&format!("CREATE {long}")).await.unwrap();
    assert_ne!(reply.status(), Status::Ok, "{reply:?}");
    assert!(!reply.has_code("SERVERBUG"), "{reply:?}");
    assert!(!reply.text().is_empty());
}
