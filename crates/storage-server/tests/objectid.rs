//! OBJECTID (RFC 8474) over the storage RPC: MAILBOXID in CreateMailbox,
//! MailboxStatus, ListMailboxes and SelectMailbox; EMAILID and THREADID in
//! Fetch, Changes and (when asked) SelectMailbox; copies keep the EMAILID;
//! the EMAILID and THREADID search keys.

#[allow(dead_code)]
mod common;

use common::{Harness, OWNER, all_uids, append, mailbox_status, one_uid, rename_mailbox};
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;
use mailkeep_storage_rpc::storage::search_client::SearchClient;
use mailkeep_storage_rpc::storage::search_key::Key;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::*;
use tonic::transport::Channel;

async fn fetched(c: &mut StorageClient<Channel>, t: &str, mailbox: &str) -> Vec<FetchedMessage> {
    let request = FetchRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        uidvalidity: 0,
        uids: all_uids(),
        body: false,
        cuts: Vec::new(),
        ..Default::default()
    };
    let stream = c.fetch(with_ticket(request, t)).await.unwrap().into_inner();
    let mut out = Vec::new();
    let mut stream = FetchItems::new(stream);
    while let Some(item) = stream.next().await.unwrap() {
        if let Item::Message(m) = item {
            out.push(m);
        }
    }
    out
}

async fn select(
    c: &mut StorageClient<Channel>,
    t: &str,
    name: &str,
    with_object_ids: bool,
) -> SelectMailboxResponse {
    let request = SelectMailboxRequest {
        owner: OWNER.into(),
        name: name.into(),
        with_object_ids,
        ..Default::default()
    };
    c.select_mailbox(with_ticket(request, t))
        .await
        .unwrap()
        .into_inner()
}

async fn search(s: &mut SearchClient<Channel>, t: &str, mailbox: &str, key: Key) -> Vec<u32> {
    let request = SearchRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        uidvalidity: 0,
        program: vec![SearchKey { key: Some(key) }],
        charset: String::new(),
    };
    s.search(with_ticket(request, t))
        .await
        .unwrap()
        .into_inner()
        .uids
}

#[tokio::test]
async fn mailbox_ids_are_reported_everywhere_and_survive_a_rename() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    let created = c
        .create_mailbox(with_ticket(
            CreateMailboxRequest {
                owner: OWNER.into(),
                name: "Work".into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    let id = created.mailbox_id;
    assert!(!id.is_empty());
    assert_eq!(
        mailbox_status(&mut c, &t, "Work").await.unwrap().mailbox_id,
        id
    );
    let listed = c
        .list_mailboxes(with_ticket(
            ListMailboxesRequest {
                owner: OWNER.into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    let work = listed.mailboxes.iter().find(|m| m.name == "Work").unwrap();
    assert_eq!(work.mailbox_id, id);
    rename_mailbox(&mut c, &t, "Work", "Job").await.unwrap();
    let selected = select(&mut c, &t, "Job", false).await;
    assert_eq!(selected.status.unwrap().mailbox_id, id);

    let mut o = OrganizeClient::new(h.channel(2).await);
    let special = o
        .set_special_use(with_ticket(
            SetSpecialUseRequest {
                owner: OWNER.into(),
                mailbox: "Sent".into(),
                attributes: vec!["\\Sent".into()],
                create: true,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        mailbox_status(&mut c, &t, "Sent").await.unwrap().mailbox_id,
        special.mailbox_id
    );
    assert_ne!(special.mailbox_id, id);
}

#[tokio::test]
async fn message_ids_come_with_fetch_changes_and_select_and_copies_keep_them() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    common::create_mailbox(&mut c, &t, "Archive").await.unwrap();
    let root = append(&mut c, &t, "INBOX", b"Message-ID: <root@x>\r\n\r\nhi\r\n").await;
    let reply = append(
        &mut c,
        &t,
        "INBOX",
        b"Message-ID: <re@x>\r\nIn-Reply-To: <root@x>\r\n\r\nre\r\n",
    )
    .await;
    let lone = append(&mut c, &t, "INBOX", b"Subject: none\r\n\r\nx\r\n").await;

    let msgs = fetched(&mut c, &t, "INBOX").await;
    let (a, b, l) = (&msgs[0], &msgs[1], &msgs[2]);
    assert_eq!((a.uid, b.uid, l.uid), (root.uid, reply.uid, lone.uid));
    assert!(!a.email_id.is_empty() && a.email_id != b.email_id);
    assert!(!a.thread_id.is_empty());
    assert_eq!(a.thread_id, b.thread_id);
    assert_eq!(l.thread_id, "", "no thread data: NIL");

    let changes = c
        .changes(with_ticket(
            ChangesRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: root.uidvalidity,
                since_modseq: 0,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changes.changed[0].email_id, a.email_id);
    assert_eq!(changes.changed[1].thread_id, a.thread_id);
    let with = select(&mut c, &t, "INBOX", true).await;
    assert_eq!(with.messages[1].email_id, b.email_id);
    let without = select(&mut c, &t, "INBOX", false).await;
    assert!(without.messages.iter().all(|m| m.email_id.is_empty()));

    let mut o = OrganizeClient::new(h.channel(2).await);
    let copied = o
        .copy(with_ticket(
            CopyRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: 0,
                uids: one_uid(root.uid),
                target: "Archive".into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    let copy = &fetched(&mut c, &t, "Archive").await[0];
    assert_eq!(copy.uid, copied.new_uids[0]);
    assert_eq!(copy.email_id, a.email_id);

    let mut s = SearchClient::new(h.channel(3).await);
    let by_email = search(&mut s, &t, "Archive", Key::Emailid(a.email_id.clone())).await;
    assert_eq!(by_email, copied.new_uids);
    let by_thread = search(&mut s, &t, "INBOX", Key::Threadid(a.thread_id.clone())).await;
    assert_eq!(by_thread, [root.uid, reply.uid]);
    assert!(
        search(&mut s, &t, "INBOX", Key::Emailid("Mnothing".into()))
            .await
            .is_empty()
    );
}
