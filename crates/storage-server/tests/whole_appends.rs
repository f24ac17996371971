//! Appends gathered whole go through their store's committer (one thread
//! per store commits every one that waits): under concurrency each gets
//! its own answer and UID, every acknowledged message is indexed and its
//! file is in place, and one that fails fails alone and leaves no file.

#[allow(dead_code)]
mod common;

use common::{Harness, append_header, append_stream, mailbox_status, send_append};
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};

fn cur_files(h: &Harness) -> usize {
    std::fs::read_dir(h.maildir().join("cur")).unwrap().count()
}

fn tmp_files(h: &Harness) -> usize {
    std::fs::read_dir(h.maildir().join("tmp")).unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_whole_appends_each_get_their_uid_and_one_failing_fails_alone() {
    let h = Harness::start();
    let t = h.ticket();
    let appends = 24;
    let mut calls = Vec::new();
    for i in 0..appends {
        // Several connections, several calls on each.
        let mut c = h.client(1 + (i % 4) as u64).await;
        let t = t.clone();
        calls.push(tokio::spawn(async move {
            let body = format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes();
            let size = if i == 7 {
                // Announced bigger than it is: refused at its end.
                body.len() as u64 + 1
            } else {
                body.len() as u64
            };
            let parts = append_stream(append_header("INBOX", &[], size), &body);
            send_append(&mut c, &t, parts).await
        }));
    }
    let mut uids = Vec::new();
    for (i, call) in calls.into_iter().enumerate() {
        match call.await.unwrap() {
            Ok(r) => {
                assert_ne!(i, 7, "the short message was taken");
                assert_eq!(r.uids, [r.uid]);
                uids.push(r.uid);
            }
            Err(status) => {
                assert_eq!(i, 7, "only the short message fails: {status:?}");
                assert_eq!(
                    reason_of(&status),
                    ErrorReason::InvalidArgument,
                    "{status:?}"
                );
            }
        }
    }
    uids.sort_unstable();
    let want: Vec<u32> = (1..appends as u32).collect();
    assert_eq!(uids, want, "every UID once");
    let mut c = h.client(9).await;
    let status = mailbox_status(&mut c, &t, "INBOX").await.unwrap();
    assert_eq!(status.messages, appends as u32 - 1);
    assert_eq!(cur_files(&h), appends - 1);
    assert_eq!(tmp_files(&h), 0, "nothing left of the failed one");
}
