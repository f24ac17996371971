//! The Content and Search services of a storage process, called over a
//! passed connection with real tickets: message structure and sections,
//! SEARCH/SORT/THREAD, and a search that stops when the caller goes away.

#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use common::{Harness, OWNER, all_uids, mailbox_status, storage_client};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::content_client::ContentClient;
use mailkeep_storage_rpc::storage::search_client::SearchClient;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::*;
use tonic::Code;
use tonic::transport::Channel;

/// Appends `body` to INBOX.
async fn append(c: &mut StorageClient<Channel>, t: &str, body: &[u8]) -> AppendResponse {
    common::append(c, t, "INBOX", body).await
}

const MULTIPART: &[u8] = b"From: Ann <ann@example.org>\r\n\
To: bob@example.org\r\n\
Subject: =?UTF-8?B?Q2Fmw6k=?= report\r\n\
Message-ID: <m1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\
\r\n\
--XX\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
The quarterly numbers are attached.\r\n\
--XX\r\n\
Content-Type: application/octet-stream; name=data.bin\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
aGVsbG8gd29ybGQ=\r\n\
--XX--\r\n";

/// ENVELOPE, BODYSTRUCTURE and PREVIEW come back for the message; a text
/// part, a partial range, a decoded BINARY part and its size come back with
/// their total sizes first; a ticket from another key is refused.
#[tokio::test]
async fn content_structure_and_sections() {
    let h = Harness::start();
    let ch = h.channel(1).await;
    let t = h.ticket();
    let mut storage = storage_client(ch.clone());
    let a = append(&mut storage, &t, MULTIPART).await;
    let mut content = ContentClient::new(ch);

    let req = FetchStructureRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: a.uidvalidity,
        uids: all_uids(),
        want_envelope: true,
        want_body_structure: true,
        want_preview: true,
    };
    let mut items = content
        .fetch_structure(with_ticket(req.clone(), &t))
        .await
        .unwrap()
        .into_inner();
    let item = items.message().await.unwrap().expect("one item");
    assert_eq!(item.uid, a.uid);
    let envelope = item.envelope.expect("an envelope");
    assert_eq!(
        envelope.subject.as_deref(),
        Some(&b"=?UTF-8?B?Q2Fmw6k=?= report"[..])
    );
    assert_eq!(
        envelope.message_id.as_deref(),
        Some(&b"<m1@example.org>"[..])
    );
    let ann = Mailbox {
        name: Some(b"Ann".to_vec()),
        route: None,
        mailbox: b"ann".to_vec(),
        host: b"example.org".to_vec(),
    };
    assert_eq!(
        envelope.from,
        vec![EnvelopeAddress {
            entry: Some(envelope_address::Entry::Mailbox(ann))
        }]
    );
    assert!(envelope.sender.is_empty(), "no Sender: field");
    let bs = item.body_structure.expect("a body structure");
    assert_eq!(
        (&bs.r#type[..], &bs.subtype[..]),
        (&b"multipart"[..], &b"mixed"[..])
    );
    let Some(body_structure::Content::Multipart(mixed)) = bs.content else {
        panic!("not a multipart: {bs:?}")
    };
    let Some(body_structure::Content::Single(attachment)) = &mixed.parts[1].content else {
        panic!("{mixed:?}")
    };
    assert_eq!(attachment.encoding, b"base64");
    assert_eq!(
        attachment.size, 16,
        "aGVsbG8gd29ybGQ= without the CRLF before the boundary"
    );
    assert_eq!(mixed.parts[1].parameters[0].value, b"data.bin");
    assert!(
        item.preview.starts_with("The quarterly numbers"),
        "{}",
        item.preview
    );
    assert!(items.message().await.unwrap().is_none());

    let section = |parts: Vec<u32>, text: SectionTextKind, binary: bool| FetchSectionRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: a.uidvalidity,
        uid: a.uid,
        parts,
        text: text as i32,
        header_names: vec![],
        binary,
        partial: false,
        partial_offset: 0,
        partial_count: 0,
        size_only: false,
    };
    let read = |req: FetchSectionRequest| {
        let mut content = content.clone();
        let t = t.clone();
        async move {
            let mut s = content
                .fetch_section(with_ticket(req, &t))
                .await?
                .into_inner();
            let first = s.message().await?.expect("a first chunk");
            let total = first.total_size;
            let mut data = first.data;
            while let Some(more) = s.message().await? {
                data.extend(more.data);
            }
            Ok::<_, tonic::Status>((total, data))
        }
    };
    let (total, data) = read(section(vec![1], SectionTextKind::Full, false))
        .await
        .unwrap();
    assert_eq!(data, b"The quarterly numbers are attached.");
    assert_eq!(total, data.len() as u64);
    let mut partial = section(vec![1], SectionTextKind::Full, false);
    partial.partial = true;
    partial.partial_offset = 4;
    partial.partial_count = 9;
    assert_eq!(read(partial).await.unwrap().1, b"quarterly");
    let (_, decoded) = read(section(vec![2], SectionTextKind::Full, true))
        .await
        .unwrap();
    assert_eq!(decoded, b"hello world");
    let mut size = section(vec![2], SectionTextKind::Full, true);
    size.size_only = true;
    assert_eq!(read(size).await.unwrap().0, 11);
    let (_, header) = read(section(vec![], SectionTextKind::Header, false))
        .await
        .unwrap();
    assert!(header.ends_with(b"\r\n\r\n") && header.starts_with(b"From: Ann"));

    let forged = common::forged_ticket();
    let err = content
        .fetch_structure(with_ticket(req, &forged))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

fn text_key(word: &str) -> SearchKey {
    SearchKey {
        key: Some(search_key::Key::Text(word.into())),
    }
}

/// SEARCH finds decoded text, SORT orders by subject, THREAD links a reply.
#[tokio::test]
async fn search_sort_and_thread() {
    let h = Harness::start();
    let ch = h.channel(2).await;
    let t = h.ticket();
    let mut storage = storage_client(ch.clone());
    let first = append(
        &mut storage,
        &t,
        b"Subject: beta\r\nMessage-ID: <a@x>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nplain words\r\n",
    )
    .await;
    let reply = append(
        &mut storage,
        &t,
        b"Subject: Re: beta\r\nMessage-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n\
Date: Mon, 1 Jan 2024 11:00:00 +0000\r\nContent-Transfer-Encoding: base64\r\n\r\nc2VjcmV0IG5lZWRsZQ==\r\n",
    )
    .await;
    let alpha = append(
        &mut storage,
        &t,
        b"Subject: alpha\r\nMessage-ID: <c@x>\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\nmore\r\n",
    )
    .await;
    let mut search = SearchClient::new(ch);
    let found = search
        .search(with_ticket(
            SearchRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: first.uidvalidity,
                program: vec![text_key("NEEDLE")],
                charset: "UTF-8".into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        found.uids,
        vec![reply.uid],
        "base64 body decoded and matched"
    );

    let sorted = search
        .sort(with_ticket(
            SortRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: first.uidvalidity,
                criteria: vec![SortCriterion {
                    key: SortKeyKind::Subject as i32,
                    reverse: false,
                }],
                program: vec![],
                charset: String::new(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sorted.uids, vec![alpha.uid, first.uid, reply.uid]);

    let threads = search
        .thread(with_ticket(
            ThreadRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: first.uidvalidity,
                algorithm: ThreadAlgorithm::References as i32,
                program: vec![],
                charset: String::new(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    let beta = threads
        .threads
        .iter()
        .find(|n| n.uid == first.uid)
        .expect("a thread rooted at the first message");
    assert_eq!(
        beta.children.iter().map(|c| c.uid).collect::<Vec<_>>(),
        vec![reply.uid]
    );
}

fn search_request(uidvalidity: u32, ticket: &str) -> tonic::Request<SearchRequest> {
    with_ticket(
        SearchRequest {
            owner: OWNER.into(),
            mailbox: "INBOX".into(),
            uidvalidity,
            program: vec![text_key("no such word anywhere")],
            charset: String::new(),
        },
        ticket,
    )
}

/// CPU time this process has used.
fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).unwrap();
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

/// A long SEARCH TEXT stops working when its caller gives up: after the
/// client's deadline passes, the storage process (here: this process)
/// burns almost no more CPU, although the whole search takes far longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_search_stops_working() {
    let h = Harness::start();
    // Messages dropped straight into the Maildir (an outside change): fast
    // to make, indexed by the next sync. More are added until a full
    // search takes long enough to watch it stop.
    let cur = h.maildir().join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    let line = "lorem ipsum dolor sit amet consectetur adipiscing elit\r\n";
    let body = line.repeat(40_000 / line.len());
    let ch = h.channel(3).await;
    let t = h.ticket();
    let mut storage = storage_client(ch.clone());
    let mut search = SearchClient::new(ch);
    let mut made = 0;
    let (uidvalidity, full_time) = loop {
        for i in made..made + 3000 {
            std::fs::write(
                cur.join(format!("1700000000.M{i}P1.test,S={}:2,", body.len() + 30)),
                format!("Subject: m{i}\r\n\r\n{body}"),
            )
            .unwrap();
        }
        made += 3000;
        let status = mailbox_status(&mut storage, &t, "INBOX").await.unwrap();
        assert_eq!(status.messages, made);
        let started = Instant::now();
        let full = search
            .search(search_request(status.uidvalidity, &t))
            .await
            .unwrap()
            .into_inner();
        assert!(full.uids.is_empty());
        let took = started.elapsed();
        if took > Duration::from_millis(400) || made >= 24_000 {
            break (status.uidvalidity, took);
        }
    };
    assert!(
        full_time > Duration::from_millis(300),
        "even {made} messages search too quickly ({full_time:?}) for this test"
    );

    let cancelled = tokio::time::timeout(
        Duration::from_millis(100),
        search.search(search_request(uidvalidity, &t)),
    )
    .await;
    assert!(cancelled.is_err(), "the search finished within 100 ms");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = cpu_time();
    tokio::time::sleep(full_time / 2).await;
    let burnt = cpu_time() - before;
    assert!(
        burnt < full_time / 5,
        "{burnt:?} of CPU used in {:?} after the caller gave up: the search went on",
        full_time / 2
    );
}

fn or_key() -> SearchKey {
    SearchKey {
        key: Some(search_key::Key::Or(SearchOr {})),
    }
}

/// `depth` nested ORs: OR (OR (... TEXT needle ...) SEEN) SEEN.
fn nested_or_program(depth: usize) -> Vec<SearchKey> {
    let seen = SearchKey {
        key: Some(search_key::Key::Flag(SearchFlagKey::Seen as i32)),
    };
    let mut program = vec![or_key(); depth];
    program.push(text_key("needle"));
    program.extend(std::iter::repeat_n(seen, depth));
    program
}

/// Refusals come typed: a deeply nested search key is evaluated (64 ORs
/// deep) or refused with LIMIT past the storage's limit, never a server
/// bug; an unknown charset is BADCHARSET; BINARY of a part with an
/// unknown transfer encoding is UNKNOWN-CTE.
#[tokio::test]
async fn refusals_carry_their_reasons() {
    use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
    let h = Harness::start();
    let ch = h.channel(4).await;
    let t = h.ticket();
    let mut storage = storage_client(ch.clone());
    let a = append(&mut storage, &t, b"Subject: x\r\n\r\na needle here\r\n").await;
    let uu = append(
        &mut storage,
        &t,
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n--b--\r\n",
    )
    .await;
    let mut search = SearchClient::new(ch.clone());
    let request = |program: Vec<SearchKey>, charset: &str| {
        with_ticket(
            SearchRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: a.uidvalidity,
                program,
                charset: charset.into(),
            },
            &t,
        )
    };
    for depth in [60, 64, 100] {
        let found = search
            .search(request(nested_or_program(depth), ""))
            .await
            .unwrap_or_else(|e| panic!("{depth} deep: {e:?}"))
            .into_inner();
        assert_eq!(found.uids, vec![a.uid], "{depth} deep");
    }
    let too_deep = search
        .search(request(nested_or_program(101), ""))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&too_deep), ErrorReason::Limit, "{too_deep:?}");
    let charset = search
        .search(request(vec![text_key("x")], "KOI8-R"))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&charset), ErrorReason::BadCharset, "{charset:?}");

    let mut content = ContentClient::new(ch);
    let section = |binary: bool| {
        with_ticket(
            FetchSectionRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: uu.uidvalidity,
                uid: uu.uid,
                parts: vec![1],
                text: SectionTextKind::Full as i32,
                header_names: vec![],
                binary,
                partial: false,
                partial_offset: 0,
                partial_count: 0,
                size_only: false,
            },
            &t,
        )
    };
    let cte = content.fetch_section(section(true)).await.unwrap_err();
    assert_eq!(reason_of(&cte), ErrorReason::UnknownCte, "{cte:?}");
    assert!(content.fetch_section(section(false)).await.is_ok());
}

/// A section of a message expunged since the caller's view of the mailbox
/// is refused as expunged (IMAP's EXPUNGEISSUED: the FETCH goes on with
/// the other messages), not as a missing mailbox.
#[tokio::test]
async fn a_section_of_an_expunged_message_is_refused_as_expunged() {
    use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
    let h = Harness::start();
    let ch = h.channel(5).await;
    let t = h.ticket();
    let mut storage = storage_client(ch.clone());
    let gone = append(&mut storage, &t, b"Subject: gone\r\n\r\nsoon expunged\r\n").await;
    storage
        .store_flags(with_ticket(
            StoreFlagsRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: gone.uidvalidity,
                uids: all_uids(),
                mode: StoreMode::Add as i32,
                flags: vec!["\\Deleted".into()],
                unchanged_since: None,
            },
            &t,
        ))
        .await
        .unwrap();
    storage
        .expunge(with_ticket(
            ExpungeRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: gone.uidvalidity,
                uids: vec![],
            },
            &t,
        ))
        .await
        .unwrap();
    let mut content = ContentClient::new(ch);
    let refused = content
        .fetch_section(with_ticket(
            FetchSectionRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: gone.uidvalidity,
                uid: gone.uid,
                parts: vec![],
                text: SectionTextKind::HeaderFields as i32,
                header_names: vec!["Subject".into()],
                binary: false,
                partial: false,
                partial_offset: 0,
                partial_count: 0,
                size_only: false,
            },
            &t,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&refused), ErrorReason::Expunged, "{refused:?}");
}
