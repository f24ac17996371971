//! The public namespace (RFC 2342): the mailboxes of a configured account
//! appear to every user as `Public.<name>`, as far as that account's ACLs
//! allow; its storage process decides, as for any shared mailbox.

use crate::harness::{Server, TestDir, require_root};
use crate::sharing::admin_acl;

#[test]
fn the_public_accounts_mailboxes_are_everyones_as_its_acls_allow() {
    if !require_root("the_public_accounts_mailboxes_are_everyones_as_its_acls_allow") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "public_namespace_owner = \"public\"\n");
    server.add_user("public", "p-secret");
    server.add_user("alice", "a-secret");
    let mut p = server.login("public", "p-secret");
    for mailbox in ["News", "Drafts.Internal"] {
        p.ok(&format!("CREATE {mailbox}"));
    }
    let r = p
        .append(
            "News",
            &[],
            b"Subject: opening hours\r\n\r\nfor everyone\r\n",
        )
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    // The owner's own mailboxes are personal to it: no public namespace.
    let own = p.ok("NAMESPACE");
    assert!(
        format!("{own:?}").contains("NIL") && !format!("{own:?}").contains("Public."),
        "{own:?}"
    );
    p.logout();
    admin_acl(&server, &["set", "public", "News", "anyone", "lr"]);

    let mut a = server.login("alice", "a-secret");
    let namespaces = a.ok("NAMESPACE");
    assert!(
        format!("{namespaces:?}").contains("Public."),
        "{namespaces:?}"
    );
    let listed = a.ok("LIST \"\" \"Public*\"");
    let names: Vec<String> = listed.list("LIST").into_iter().map(|l| l.name).collect();
    assert!(names.contains(&"Public".to_owned()), "{names:?}");
    assert!(names.contains(&"Public.News".to_owned()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("Internal") || n == "Public.INBOX"),
        "only what the ACLs let alice look up: {names:?}"
    );
    let selected = a.ok("SELECT Public.News");
    assert_eq!(selected.exists(), Some(1));
    let refused = a.run("STORE 1 +FLAGS (\\Flagged)").expect("STORE");
    assert!(refused.has_code("NOPERM"), "{refused:?}");
    let hidden = a.run("SELECT Public.Drafts.Internal").expect("SELECT");
    assert!(hidden.has_code("NONEXISTENT"), "{hidden:?}");
    a.logout();
}
