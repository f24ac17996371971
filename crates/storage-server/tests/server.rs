//! The storage process in-process: a control socket pair standing in for
//! the master, one passed connection, and a real gRPC client over it.

use std::os::fd::OwnedFd;

use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection};
use mailkeep_storage_rpc::channel::channel_over;
use mailkeep_storage_rpc::framing::send_frame;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_storage_rpc::storage::fetch_response::Item;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_storage_server::{StorageServerError, StorageSettings, serve};
use mailkeep_ticket::{Claims, Scope, TicketKey, now_unix, sign};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::Channel;

const OWNER: &str = "alice";

struct Harness {
    home: tempfile::TempDir,
    key: TicketKey,
    master: UnixStream,
    server: JoinHandle<Result<(), StorageServerError>>,
}

impl Harness {
    async fn start() -> Harness {
        let home = tempfile::tempdir().unwrap();
        let key = TicketKey::generate();
        let (master, control) = UnixStream::pair().unwrap();
        let settings = StorageSettings {
            owner: OWNER.into(),
            home: home.path().to_path_buf(),
        };
        let server = tokio::spawn(serve(settings, key.clone(), control));
        Harness {
            home,
            key,
            master,
            server,
        }
    }

    async fn connect(&self, id: u64) -> StorageClient<Channel> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = OwnedFd::from(theirs);
        let msg = ControlMessage {
            kind: Some(Kind::NewConnection(NewConnection { connection_id: id })),
        };
        send_frame(&self.master, &msg, Some(&fd)).await.unwrap();
        drop(fd);
        ours.set_nonblocking(true).unwrap();
        let channel = channel_over(UnixStream::from_std(ours).unwrap())
            .await
            .unwrap();
        StorageClient::new(channel)
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
            .max_encoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
    }

    fn ticket(&self, user: &str, scope: Scope) -> String {
        sign(
            &self.key,
            &Claims::new(user, scope, now_unix(), 3600, "test"),
        )
    }

    fn tmp_files(&self) -> usize {
        std::fs::read_dir(self.home.path().join("Maildir/tmp"))
            .unwrap()
            .count()
    }
}

fn append_stream(mailbox: &str, flags: &[&str], body: &[u8], announced: u64) -> Vec<AppendRequest> {
    let mut parts = vec![AppendRequest {
        part: Some(Part::Header(AppendHeader {
            owner: OWNER.into(),
            mailbox: mailbox.into(),
            flags: flags.iter().map(|s| s.to_string()).collect(),
            internal_date: 1_700_000_000,
            internal_date_offset_minutes: -300,
            size: announced,
        })),
    }];
    for chunk in body.chunks(mailkeep_storage_rpc::CHUNK_SIZE) {
        parts.push(AppendRequest {
            part: Some(Part::Chunk(chunk.to_vec())),
        });
    }
    parts
}

async fn do_append(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    parts: Vec<AppendRequest>,
) -> Result<AppendResponse, tonic::Status> {
    client
        .append(with_ticket(tokio_stream::iter(parts), ticket))
        .await
        .map(|r| r.into_inner())
}

async fn fetch_all(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    mailbox: &str,
    uidvalidity: u32,
) -> Result<Vec<(FetchedMessage, Vec<u8>)>, tonic::Status> {
    let req = FetchRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        uidvalidity,
        uids: vec![UidRange {
            first: 1,
            last: u32::MAX,
        }],
        body: true,
    };
    let mut stream = client.fetch(with_ticket(req, ticket)).await?.into_inner();
    let mut out: Vec<(FetchedMessage, Vec<u8>)> = Vec::new();
    while let Some(item) = stream.message().await? {
        match item.item.unwrap() {
            Item::Message(m) => out.push((m, Vec::new())),
            Item::BodyChunk(c) => out.last_mut().unwrap().1.extend_from_slice(&c),
        }
    }
    Ok(out)
}

#[tokio::test]
async fn mailbox_append_fetch_flags_expunge_changes() {
    let h = Harness::start().await;
    let mut c = h.connect(1).await;
    let t = h.ticket(OWNER, Scope::Session);

    c.create_mailbox(with_ticket(
        CreateMailboxRequest {
            owner: OWNER.into(),
            name: "Work".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let err = c
        .create_mailbox(with_ticket(
            CreateMailboxRequest {
                owner: OWNER.into(),
                name: "Work".into(),
            },
            &t,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = c
        .create_mailbox(with_ticket(
            CreateMailboxRequest {
                owner: OWNER.into(),
                name: "a..b".into(),
            },
            &t,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let list = c
        .list_mailboxes(with_ticket(
            ListMailboxesRequest {
                owner: OWNER.into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.delimiter, ".");
    let names: Vec<&str> = list.mailboxes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["INBOX", "Work"]);

    // ~1 MB in many chunks, back byte for byte.
    let body: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 256) as u8).collect();
    let a = do_append(
        &mut c,
        &t,
        append_stream("Work", &["\\Seen"], &body, body.len() as u64),
    )
    .await
    .unwrap();
    assert_eq!(a.uid, 1);
    let b = do_append(&mut c, &t, append_stream("Work", &[], b"small\r\n", 7))
        .await
        .unwrap();
    assert!(b.uid > a.uid && b.modseq > a.modseq);
    let fetched = fetch_all(&mut c, &t, "Work", a.uidvalidity).await.unwrap();
    assert_eq!(fetched.len(), 2);
    assert_eq!(fetched[0].0.uid, a.uid);
    assert_eq!(fetched[0].0.size, body.len() as u64);
    assert_eq!(fetched[0].0.flags, ["\\Seen"]);
    assert_eq!(fetched[0].0.internal_date, 1_700_000_000);
    assert_eq!(fetched[0].0.internal_date_offset_minutes, -300);
    // SAVEDATE: when it was saved here, not the internal date it was given.
    let saved = fetched[0].0.save_date;
    assert!(
        (saved - mailkeep_ticket::now_unix()).abs() < 120,
        "save date {saved} is not about now"
    );
    assert!(fetched[0].1 == body, "fetched body differs");
    assert_eq!(fetched[1].1, b"small\r\n");

    let sel = c
        .select_mailbox(with_ticket(
            SelectMailboxRequest {
                owner: OWNER.into(),
                name: "Work".into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    let status = sel.status.unwrap();
    assert_eq!((status.messages, status.unseen), (2, 1));
    let mark = status.highestmodseq;

    let stored = c
        .store_flags(with_ticket(
            StoreFlagsRequest {
                owner: OWNER.into(),
                mailbox: "Work".into(),
                uidvalidity: a.uidvalidity,
                uids: vec![UidRange {
                    first: a.uid,
                    last: a.uid,
                }],
                mode: StoreMode::Add as i32,
                flags: vec!["\\deleted".into()],
                unchanged_since: 0,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.updated.len(), 1);
    assert_eq!(stored.updated[0].flags, ["\\Deleted", "\\Seen"]);
    let expunged = c
        .expunge(with_ticket(
            ExpungeRequest {
                owner: OWNER.into(),
                mailbox: "Work".into(),
                uidvalidity: a.uidvalidity,
                uids: vec![],
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(expunged.expunged, [a.uid]);
    let changes = c
        .changes(with_ticket(
            ChangesRequest {
                owner: OWNER.into(),
                mailbox: "Work".into(),
                uidvalidity: a.uidvalidity,
                since_modseq: mark,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changes.vanished, [a.uid]);
    assert!(changes.changed.is_empty());
    assert_eq!(
        changes.status.unwrap().highestmodseq,
        expunged.highestmodseq
    );
    let stale = c
        .changes(with_ticket(
            ChangesRequest {
                owner: OWNER.into(),
                mailbox: "Work".into(),
                uidvalidity: a.uidvalidity + 1,
                since_modseq: 0,
            },
            &t,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);

    c.rename_mailbox(with_ticket(
        RenameMailboxRequest {
            owner: OWNER.into(),
            from: "Work".into(),
            to: "Job".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let st = c
        .mailbox_status(with_ticket(
            MailboxStatusRequest {
                owner: OWNER.into(),
                name: "Job".into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(st.messages, 1);
    c.delete_mailbox(with_ticket(
        DeleteMailboxRequest {
            owner: OWNER.into(),
            name: "Job".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let err = c
        .mailbox_status(with_ticket(
            MailboxStatusRequest {
                owner: OWNER.into(),
                name: "Job".into(),
            },
            &t,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // The master goes away: serve returns Ok.
    drop(c);
    drop(h.master);
    h.server.await.unwrap().unwrap();
}

#[tokio::test]
async fn bad_appends_leave_nothing() {
    let h = Harness::start().await;
    let mut c = h.connect(7).await;
    let t = h.ticket(OWNER, Scope::Session);
    // Fewer bytes than announced.
    let err = do_append(&mut c, &t, append_stream("INBOX", &[], b"12345", 10))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // More bytes than announced.
    let err = do_append(
        &mut c,
        &t,
        append_stream("INBOX", &[], &[b'x'; 200_000], 10),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // No header first.
    let parts = vec![AppendRequest {
        part: Some(Part::Chunk(b"x".to_vec())),
    }];
    let err = do_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // No such mailbox; a bad flag.
    let err = do_append(&mut c, &t, append_stream("Nope", &[], b"x", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = do_append(&mut c, &t, append_stream("INBOX", &["\\Recent"], b"x", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // A client that goes away mid-append.
    let (tx, rx) = tokio::sync::mpsc::channel::<AppendRequest>(4);
    let mut parts = append_stream("INBOX", &[], &[b'y'; 100_000], 100_000).into_iter();
    tx.send(parts.next().unwrap()).await.unwrap();
    tx.send(parts.next().unwrap()).await.unwrap();
    let mut c2 = c.clone();
    let t2 = t.clone();
    let call = tokio::spawn(async move {
        c2.append(with_ticket(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            &t2,
        ))
        .await
    });
    for _ in 0..50 {
        if h.tmp_files() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.tmp_files(), 1, "the append should be under way");
    call.abort();
    let _ = call.await;
    drop(tx);
    for _ in 0..50 {
        if h.tmp_files() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.tmp_files(), 0);
    let st = c
        .mailbox_status(with_ticket(
            MailboxStatusRequest {
                owner: OWNER.into(),
                name: "INBOX".into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(st.messages, 0);
}

#[tokio::test]
async fn tickets_are_checked_before_anything() {
    let h = Harness::start().await;
    let mut c = h.connect(3).await;
    let list = |t: &str| {
        with_ticket(
            ListMailboxesRequest {
                owner: OWNER.into(),
            },
            t,
        )
    };

    // Forged: signed with another key.
    let forged = sign(
        &TicketKey::generate(),
        &Claims::new(OWNER, Scope::Session, now_unix(), 3600, "x"),
    );
    assert_eq!(
        c.list_mailboxes(list(&forged)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // Expired.
    let expired = sign(
        &h.key,
        &Claims::new(OWNER, Scope::Session, now_unix() - 7200, 3600, "x"),
    );
    let err = c.list_mailboxes(list(&expired)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("expired"), "{}", err.message());
    // Garbage and none at all.
    assert_eq!(
        c.list_mailboxes(list("garbage")).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let bare = tonic::Request::new(ListMailboxesRequest {
        owner: OWNER.into(),
    });
    assert_eq!(
        c.list_mailboxes(bare).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // A delivery ticket may append but not read.
    let deliver = h.ticket(OWNER, Scope::Deliver);
    let req = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: 0,
        uids: vec![UidRange {
            first: 1,
            last: u32::MAX,
        }],
        body: true,
    };
    let err = c.fetch(with_ticket(req, &deliver)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("scope"), "{}", err.message());
    do_append(
        &mut c,
        &deliver,
        append_stream("INBOX", &[], b"delivered\r\n", 11),
    )
    .await
    .unwrap();

    // Another user's ticket for this owner's mail.
    let bob = h.ticket("bob", Scope::Session);
    let err = c.list_mailboxes(list(&bob)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Bob's own mail is not served by this process.
    let err = c
        .list_mailboxes(with_ticket(
            ListMailboxesRequest {
                owner: "bob".into(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // A refused append touches nothing.
    let err = do_append(&mut c, &bob, append_stream("INBOX", &[], b"x", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let t = h.ticket(OWNER, Scope::Session);
    let fetched = fetch_all(&mut c, &t, "INBOX", 0).await.unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].1, b"delivered\r\n");
}

#[tokio::test]
async fn fetch_reports_data_loss_when_the_file_changed() {
    let h = Harness::start().await;
    let mut c = h.connect(9).await;
    let t = h.ticket(OWNER, Scope::Session);
    let a = do_append(&mut c, &t, append_stream("INBOX", &[], b"0123456789", 10))
        .await
        .unwrap();
    let cur = h.home.path().join("Maildir/cur");
    let file = std::fs::read_dir(&cur)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, b"01234").unwrap();
    let err = fetch_all(&mut c, &t, "INBOX", a.uidvalidity)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DataLoss);
    std::fs::write(&file, b"0123456789ABC").unwrap();
    let err = fetch_all(&mut c, &t, "INBOX", a.uidvalidity)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DataLoss);
    // A file that is gone is an outside expunge (DESIGN §5): the next sync
    // drops its row, and the fetch finds nothing rather than failing.
    std::fs::remove_file(&file).unwrap();
    let fetched = fetch_all(&mut c, &t, "INBOX", a.uidvalidity).await.unwrap();
    assert!(fetched.is_empty(), "the vanished message is still listed");
}
