//! THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT, REFERENCES and REFS
//! (RFC 9198 drafts' REFS as Dovecot offers it), computed by storage.

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Thread, ThreadAlgorithm, ThreadNode, thread_response};
use mailkeep_storage_rpc::storage::{self as pb, ThreadRequest};

use crate::cmd::search::{check_charset, convert};
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::reply::Reply;
use crate::session::state::Selected;
use crate::view::View;

impl Command for Thread {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "THREAD",
        runs: Runs::Beside,
        capability: None,
    };

    fn uses_sequence_numbers(&self) -> bool {
        !self.uid || convert::uses_sequence_numbers(&self.key)
    }

    async fn run(self, cx: Cx, state: Selected) -> Result<Done, ImapError> {
        if let Err(reply) = check_charset(Some(&self.charset)) {
            return Ok(Done::reply(reply));
        }
        let mailbox = &state.mailbox;
        let key = {
            let view = mailbox.view();
            match convert::to_rpc(&self.key, &view) {
                Ok(key) => key,
                Err(reply) => return Ok(Done::reply(reply)),
            }
        };
        let algorithm = match self.algorithm {
            ThreadAlgorithm::OrderedSubject => pb::ThreadAlgorithm::Orderedsubject,
            ThreadAlgorithm::References => pb::ThreadAlgorithm::References,
            ThreadAlgorithm::Refs => pb::ThreadAlgorithm::Refs,
        };
        let request = ThreadRequest {
            owner: state.owner().to_owned(),
            mailbox: mailbox.name(),
            uidvalidity: mailbox.uidvalidity,
            algorithm: algorithm as i32,
            program: key,
            charset: self.charset.clone(),
        };
        let threads = match state
            .call(Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.search().thread(request).await }
            })
            .await
        {
            Ok(response) => response.threads,
            Err(e) => return Ok(Done::reply(storage_reply(&e, Target::Other))),
        };
        let roots: Vec<ThreadNode> = {
            let view = mailbox.view();
            threads.iter().map(|t| node(t, &view, self.uid)).collect()
        };
        let mut out = Vec::new();
        thread_response(&mut out, &roots);
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("Thread completed.")))
    }
}

/// A storage thread node as the client numbers it: UIDs for UID THREAD,
/// else sequence numbers; a message the session does not see is a dummy.
fn node(from: &pb::ThreadNode, view: &View, uid: bool) -> ThreadNode {
    // Storage's tree is at most as deep as protobuf nesting allows (about
    // 100), so recursion here is bounded.
    let id = match from.uid {
        0 => None,
        u => view.seq_of(u).map(|seq| if uid { u } else { seq }),
    };
    ThreadNode {
        id,
        children: from.children.iter().map(|c| node(c, view, uid)).collect(),
    }
}
