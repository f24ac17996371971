//! The ACL commands (RFC 4314) on the user's own mailboxes, where the
//! owner holds every right, and LIST's MYRIGHTS return option (RFC 8440).

use mailkeep_testkit::{Reply, Status};

use super::{login, ok, process, services};
use crate::settings::ImapSettings;

/// Every right of RFC 4314 with RIGHTS=texk as IMAP shows it: the owner's, with the virtual `c` and `d`
/// of RFC 4314 §2.1.1.
const ALL_RIGHTS: &str = "lrswipkxteacd";

/// The words of the one untagged `name` response.
fn data(reply: &Reply, name: &str) -> Vec<String> {
    reply
        .untagged(name)
        .next()
        .unwrap_or_else(|| panic!("no {name}: {reply:?}"))
        .words()
}

/// GETACL's (identifier, rights) pairs.
fn entries(reply: &Reply) -> Vec<(String, String)> {
    let words = data(reply, "ACL");
    words[1..]
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair.get(1).cloned().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn acl_capabilities_are_announced_after_login() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = ok(&mut c, "CAPABILITY").await;
    let caps = reply.capabilities();
    for cap in ["ACL", "RIGHTS=texk", "LIST-MYRIGHTS", "NAMESPACE"] {
        assert!(caps.iter().any(|c| c == cap), "{cap}: {caps:?}");
    }
}

#[tokio::test]
async fn acl_commands_with_bad_syntax_are_bad() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    for command in [
        "SETACL INBOX bob",
        "DELETEACL INBOX",
        "GETACL",
        "LISTRIGHTS INBOX",
        "MYRIGHTS INBOX extra",
    ] {
        let reply = c.run(command).await.unwrap();
        assert_eq!(reply.status(), Status::Bad, "{command}: {reply:?}");
    }
    // Before login they are refused too.
    let mut fresh = super::connect(&process).await;
    let reply = fresh.run("MYRIGHTS INBOX").await.unwrap();
    assert_eq!(reply.status(), Status::Bad, "{reply:?}");
}

#[tokio::test]
async fn the_owner_has_every_right() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = ok(&mut c, "MYRIGHTS INBOX").await;
    assert_eq!(data(&reply, "MYRIGHTS"), ["INBOX", ALL_RIGHTS], "{reply:?}");
    ok(&mut c, "CREATE Projects").await;
    let reply = ok(&mut c, "MYRIGHTS Projects").await;
    assert_eq!(data(&reply, "MYRIGHTS")[1], ALL_RIGHTS, "{reply:?}");
    let reply = c.run("MYRIGHTS Nowhere").await.unwrap();
    assert_eq!(reply.status(), Status::No, "{reply:?}");
    assert!(reply.has_code("NONEXISTENT"), "{reply:?}");
}

#[tokio::test]
async fn setacl_getacl_deleteacl_and_listrights_round_trip() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    ok(&mut c, "CREATE Projects").await;
    ok(&mut c, "SETACL Projects bob lr").await;
    let bob = |reply: &Reply| {
        entries(reply)
            .into_iter()
            .find(|(id, _)| id == "bob")
            .map(|(_, rights)| rights)
    };
    let reply = ok(&mut c, "GETACL Projects").await;
    assert_eq!(data(&reply, "ACL")[0], "Projects", "{reply:?}");
    assert_eq!(bob(&reply).as_deref(), Some("lr"), "{reply:?}");
    ok(&mut c, "SETACL Projects bob +wi").await;
    let reply = ok(&mut c, "GETACL Projects").await;
    assert_eq!(bob(&reply).as_deref(), Some("lrwi"), "{reply:?}");
    ok(&mut c, "SETACL Projects bob -r").await;
    let reply = ok(&mut c, "GETACL Projects").await;
    assert_eq!(bob(&reply).as_deref(), Some("lwi"), "{reply:?}");
    // Negative rights and the special identifiers are identifiers too.
    ok(&mut c, "SETACL Projects -anyone w").await;
    ok(&mut c, "SETACL Projects anyone l").await;
    let reply = ok(&mut c, "GETACL Projects").await;
    let ids: Vec<String> = entries(&reply).into_iter().map(|(id, _)| id).collect();
    assert!(ids.contains(&"-anyone".to_owned()), "{reply:?}");
    assert!(ids.contains(&"anyone".to_owned()), "{reply:?}");
    let reply = ok(&mut c, "LISTRIGHTS Projects bob").await;
    let words = data(&reply, "LISTRIGHTS");
    assert_eq!(&words[..2], ["Projects", "bob"], "{reply:?}");
    let granted: String = words[2..].concat();
    for right in ALL_RIGHTS.chars() {
        assert!(granted.contains(right), "{right}: {reply:?}");
    }
    ok(&mut c, "DELETEACL Projects bob").await;
    let reply = ok(&mut c, "GETACL Projects").await;
    assert_eq!(bob(&reply), None, "{reply:?}");
    // The owner's own rights stay whole whatever the ACL says.
    let reply = ok(&mut c, "MYRIGHTS Projects").await;
    assert_eq!(data(&reply, "MYRIGHTS")[1], ALL_RIGHTS, "{reply:?}");
    // And none is left to grant: a right is listed once (RFC 4314 §3.7).
    let reply = ok(&mut c, &format!("LISTRIGHTS Projects {}", super::USER)).await;
    assert_eq!(data(&reply, "LISTRIGHTS")[2..], [ALL_RIGHTS], "{reply:?}");
    let reply = c
        .run(&format!("SETACL Projects {} lr", super::USER))
        .await
        .unwrap();
    assert!(
        reply.has_code("CANNOT") && reply.text().contains("owner always holds every right"),
        "{reply:?}"
    );
    // RFC 2086's c and d are read and shown (RFC 4314 §2.1.1).
    ok(&mut c, "SETACL Projects carol lrcd").await;
    let reply = ok(&mut c, "GETACL Projects").await;
    let carol = entries(&reply).into_iter().find(|(id, _)| id == "carol");
    assert_eq!(
        carol.map(|(_, r)| r).as_deref(),
        Some("lrkxtecd"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn an_unknown_right_letter_is_bad() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = c.run("SETACL INBOX bob lrZ").await.unwrap();
    assert_eq!(reply.status(), Status::Bad, "{reply:?}");
    let reply = c.run("SETACL INBOX bob +7").await.unwrap();
    assert_eq!(reply.status(), Status::Bad, "{reply:?}");
    // Nothing was granted.
    let reply = ok(&mut c, "GETACL INBOX").await;
    assert!(
        !entries(&reply).iter().any(|(id, _)| id == "bob"),
        "{reply:?}"
    );
    let reply = c.run("SETACL Nowhere bob lr").await.unwrap();
    assert!(reply.has_code("NONEXISTENT"), "{reply:?}");
}

#[tokio::test]
async fn list_returns_myrights() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    ok(&mut c, "CREATE Projects").await;
    let reply = ok(&mut c, "LIST \"\" \"*\" RETURN (MYRIGHTS)").await;
    let lines = reply.lines_of("LIST");
    for name in ["INBOX", "Projects"] {
        let expected = format!("{name} (\"MYRIGHTS\" \"{ALL_RIGHTS}\")");
        assert!(
            lines.iter().any(|l| l.ends_with(&expected)),
            "{expected}: {lines:?}"
        );
    }
    // Without the option, no extended data.
    let reply = ok(&mut c, "LIST \"\" \"*\"").await;
    assert!(
        !reply
            .responses
            .iter()
            .any(|r| r.text().contains("MYRIGHTS")),
        "{reply:?}"
    );
}
