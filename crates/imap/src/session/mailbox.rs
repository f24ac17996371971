//! The selected mailbox: its name, UIDVALIDITY and the session's view of
//! it, shared by the commands that run side by side; and keeping the view
//! current by asking storage what changed and telling the client.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use mailkeep_frontend::{Retry, Storage, StorageError};
use mailkeep_imap_proto::{Code, StatusKind, status_response};
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::{ChangeDelta, ChangesRequest, MessageFlags};

use crate::errors::ImapError;
use crate::io::Output;
use crate::namespace::MailboxRef;
use crate::session::contexts::{self, Context, MAX_CONTEXTS};
use crate::session::enabled::Enabled;
use crate::session::waits;
use crate::session::watcher::{ChangeMark, FollowedMailbox};
use crate::view::{FlagUpdate, Update, View};

/// The system flags every mailbox supports.
pub(crate) const SYSTEM_FLAGS: &[&str] =
    &["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Synced {
    /// The view is current (or storage could not be asked this time).
    Current,
    /// The mailbox was deleted or got a new UIDVALIDITY: the session can
    /// no longer use it.
    Lost,
}

/// Which flags the user may change in a mailbox (RFC 4314 §4): its
/// owner all of them; a guest `\Seen` with the `s` right, `\Deleted` with
/// `t`, the others and new keywords with `w`. PERMANENTFLAGS lists those,
/// and `\*` when new keywords may be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settable {
    seen: bool,
    deleted: bool,
    others: bool,
    new_keywords: bool,
}

impl Settable {
    /// Every flag: the owner's, or when the rights are not known (storage
    /// checks each change anyway).
    pub(crate) const ALL: Settable = Settable {
        seen: true,
        deleted: true,
        others: true,
        new_keywords: true,
    };

    /// What the rights letters `rights` (as MYRIGHTS gives them) allow.
    pub(crate) fn from_rights(rights: &str) -> Settable {
        let others = rights.contains('w');
        Settable {
            seen: rights.contains('s'),
            deleted: rights.contains('t'),
            others,
            new_keywords: others,
        }
    }

    /// These, without new keywords (the mailbox has as many as it may).
    pub(crate) fn without_new_keywords(self) -> Settable {
        Settable {
            new_keywords: false,
            ..self
        }
    }

    /// Whether `flag` (a FLAGS name) may be changed.
    fn allows(self, flag: &str) -> bool {
        if flag.eq_ignore_ascii_case("\\Seen") {
            self.seen
        } else if flag.eq_ignore_ascii_case("\\Deleted") {
            self.deleted
        } else {
            self.others
        }
    }
}

/// A selected mailbox.
pub(crate) struct Mailbox {
    /// Whose mailbox it is: every call about it goes to this owner's
    /// storage (the user's own, or a sharing owner's).
    owner: String,
    /// The name as the owner's storage knows it (UTF-8; changes with a
    /// RENAME), and whether changes came since the last sync (fed by the
    /// watcher): shared with the task that follows the mailbox's changes.
    followed: Arc<FollowedMailbox>,
    /// Selected with EXAMINE.
    pub(crate) read_only: bool,
    /// The flags the user may change.
    settable: Settable,
    /// Its UIDVALIDITY.
    pub(crate) uidvalidity: u32,
    view: Mutex<View>,
    /// Keywords announced in FLAGS so far, by lower-case name.
    keywords: Mutex<BTreeMap<String, String>>,
    /// Live search results (RFC 5267 contexts).
    contexts: Mutex<Vec<Context>>,
}

impl Mailbox {
    /// A mailbox just selected, with its whole view and the keywords the
    /// SELECT announced.
    pub(crate) fn new(
        mailbox: MailboxRef,
        read_only: bool,
        settable: Settable,
        view: View,
        keywords: &[String],
    ) -> Mailbox {
        Mailbox {
            owner: mailbox.owner,
            followed: Arc::new(FollowedMailbox::new(mailbox.name, view.uidvalidity)),
            read_only,
            settable,
            uidvalidity: view.uidvalidity,
            view: Mutex::new(view),
            keywords: Mutex::new(
                keywords
                    .iter()
                    .map(|k| (k.to_ascii_lowercase(), k.clone()))
                    .collect(),
            ),
            contexts: Mutex::new(Vec::new()),
        }
    }

    /// This new selection of the mailbox `earlier` had selected (the same
    /// owner, name and UIDVALIDITY), which shares the stream that follows
    /// it instead of closing it and opening another at its first command;
    /// as it was when that stream does not follow the mailbox now (none
    /// opened yet, ended, or renamed under it).
    pub(crate) fn following_on(mut self, earlier: &Mailbox) -> Mailbox {
        if earlier.owner == self.owner && earlier.followed.continues(&self.name(), self.uidvalidity)
        {
            self.followed = Arc::clone(&earlier.followed);
        }
        self
    }

    /// Starts following the mailbox's changes, unless that started
    /// already: at the first command after SELECT that can use them (a
    /// session that selects and leaves opens no stream), or at once under
    /// NOTIFY. Until the stream opens, every command asks storage.
    pub(crate) fn follow_changes(&self, storage: &Storage) {
        self.followed.follow(&self.owner, storage);
    }

    /// What the watcher knows about changes.
    pub(crate) fn mark(&self) -> &ChangeMark {
        self.followed.mark()
    }

    /// Whether storage must be asked what changed (clearing the mark): an
    /// event came for a change the view does not hold yet.
    pub(crate) fn take_change(&self) -> bool {
        let known = self.view().highest_modseq;
        self.mark().take(known)
    }

    /// The live search contexts.
    pub(crate) fn contexts(&self) -> Vec<Context> {
        lock(&self.contexts).clone()
    }

    /// Keeps `context` live; `false` when the mailbox has as many as it
    /// keeps (the command then answers NOUPDATE).
    pub(crate) fn add_context(&self, context: Context) -> bool {
        let mut contexts = lock(&self.contexts);
        contexts.retain(|c| c.tag != context.tag);
        if contexts.len() >= MAX_CONTEXTS {
            return false;
        }
        contexts.push(context);
        true
    }

    /// Records a context's new result.
    pub(crate) fn set_context_result(&self, tag: &str, uids: Vec<u32>) {
        if let Some(c) = lock(&self.contexts).iter_mut().find(|c| c.tag == tag) {
            c.uids = uids;
        }
    }

    /// Ends the contexts made by the commands tagged `tags` (CANCELUPDATE).
    pub(crate) fn cancel_contexts(&self, tags: &[String]) {
        lock(&self.contexts).retain(|c| !tags.contains(&c.tag));
    }

    /// Whose mailbox it is.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Whether this is `mailbox` (same owner, same name now).
    pub(crate) fn is(&self, mailbox: &MailboxRef) -> bool {
        self.owner == mailbox.owner && self.name() == mailbox.name
    }

    /// The mailbox's name now, in its owner's storage.
    pub(crate) fn name(&self) -> String {
        self.followed.name()
    }

    /// Follows a RENAME of the mailbox or of a parent of it from `from` to
    /// `to`.
    pub(crate) fn renamed(&self, from: &str, to: &str) {
        let mut name = self.followed.name_mut();
        // The watch follows the old name: ask storage at every command.
        self.mark().unwatch();
        if *name == from {
            *name = to.to_owned();
        } else if let Some(rest) = name.strip_prefix(from)
            && rest.starts_with('.')
        {
            *name = format!("{to}{rest}");
        }
    }

    /// The view, for a short look or change (never held across an await).
    pub(crate) fn view(&self) -> MutexGuard<'_, View> {
        self.view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The flags a FLAGS / PERMANENTFLAGS response lists: the system flags
    /// and every keyword announced so far.
    pub(crate) fn flag_names(&self) -> Vec<String> {
        let keywords = self
            .keywords
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        SYSTEM_FLAGS
            .iter()
            .map(|f| (*f).to_owned())
            .chain(keywords.values().cloned())
            .collect()
    }

    /// Whether the user may change `flag` here (a guest by its rights).
    pub(crate) fn may_change(&self, flag: &str) -> bool {
        self.settable.allows(flag)
    }

    /// Writes `* FLAGS` and `* OK [PERMANENTFLAGS]` (the flags the user
    /// may change, and `\*` when that includes new keywords), as SELECT
    /// does and as any FETCH needs first when a keyword appears that the
    /// client has not been told of.
    pub(crate) fn write_flags(&self, out: &mut Vec<u8>) {
        let flags = self.flag_names();
        mailkeep_imap_proto::flags_line(out, &flags);
        let permanent = if self.read_only {
            Vec::new()
        } else {
            let mut p: Vec<String> = flags
                .into_iter()
                .filter(|f| self.settable.allows(f))
                .collect();
            if self.settable.new_keywords {
                p.push("\\*".to_owned());
            }
            p
        };
        status_response(
            out,
            None,
            StatusKind::Ok,
            Some(&Code::PermanentFlags(permanent)),
            if self.read_only {
                "No permanent flags permitted"
            } else {
                "Flags permitted"
            },
        );
    }

    /// Remembers the keywords in `flags`; writes FLAGS/PERMANENTFLAGS to
    /// `out` first if one of them is new to the client.
    pub(crate) fn announce_keywords(&self, flags: &[String], out: &mut Vec<u8>) {
        // System flags are announced from the start (a FETCH of flags
        // alone asks this for every message it answers).
        if flags.iter().all(|f| f.starts_with('\\')) {
            return;
        }
        let mut new = false;
        {
            let mut keywords = self
                .keywords
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for flag in flags.iter().filter(|f| !f.starts_with('\\')) {
                let key = flag.to_ascii_lowercase();
                if let std::collections::btree_map::Entry::Vacant(entry) = keywords.entry(key) {
                    entry.insert(flag.clone());
                    new = true;
                }
            }
        }
        if new {
            self.write_flags(out);
        }
    }

    /// Records that the session's own command added messages to `target`
    /// (APPEND, COPY): when that is this mailbox, the command's end brings
    /// the view up to them, so that the client hears of them (EXISTS)
    /// before the OK and may use their UIDs at once (RFC 9051 §6.3.12).
    /// With `modseq`, the MODSEQ the addition brought the mailbox to (an
    /// APPEND's reply names it), the watch's delta of it is waited for and
    /// taken, as it is on its way; without, storage is asked.
    pub(crate) fn added_to(&self, target: &MailboxRef, modseq: Option<u64>) {
        if self.is(target) {
            match modseq {
                Some(modseq) if modseq > 0 => self.mark().expect(modseq),
                _ => self.mark().force(),
            }
        }
    }

    /// [`Mailbox::catch_up`] when the client is behind: a change the watch
    /// marked (always, unwatched) or, when `allow_expunge`, expunges an
    /// earlier command held back. The first stream is waited for while it
    /// opens: it tells whether anything changed before it began.
    pub(crate) async fn catch_up_if_behind(
        &self,
        storage: &Storage,
        out: &Output,
        allow_expunge: bool,
        enabled: Enabled,
    ) -> Result<Synced, ImapError> {
        self.mark().opening_settled().await;
        if self.take_change() || (allow_expunge && self.view().has_pending_expunges()) {
            return self.catch_up(storage, out, allow_expunge, enabled).await;
        }
        Ok(Synced::Current)
    }

    /// Brings the view up to the changes the watch told of and tells the
    /// client, as [`Mailbox::sync`] does, from the changes that came whole
    /// when they continue the view, else by asking storage. The event of
    /// the session's own APPEND ([`Mailbox::added_to`]) is waited for, at
    /// most [`waits::WatchWaits::own_append`]; it comes within a millisecond when the
    /// watch and the APPEND reach one storage process.
    pub(crate) async fn catch_up(
        &self,
        storage: &Storage,
        out: &Output,
        allow_expunge: bool,
        enabled: Enabled,
    ) -> Result<Synced, ImapError> {
        let deadline = tokio::time::Instant::now() + waits::get().own_append;
        loop {
            let mut bytes = Vec::new();
            let (updates, awaited) = {
                let mut view = self.view();
                let updates = self
                    .mark()
                    .deltas_from(view.highest_modseq, view.holds_from())
                    .map(|deltas| self.take_deltas(&mut view, deltas, allow_expunge, &mut bytes));
                (updates, self.mark().awaits_own_change(view.highest_modseq))
            };
            if let Some(updates) = updates {
                return self.report(storage, out, &updates, bytes, enabled).await;
            }
            if !awaited
                || tokio::time::timeout_at(deadline, self.mark().next_event())
                    .await
                    .is_err()
            {
                return self.sync(storage, out, allow_expunge, enabled).await;
            }
        }
    }

    /// Asks storage what changed since the view's MODSEQ and tells the
    /// client (EXISTS, EXPUNGE or VANISHED, FETCH FLAGS), expunges only when
    /// `allow_expunge` (no command using sequence numbers runs).
    pub(crate) async fn sync(
        &self,
        storage: &Storage,
        out: &Output,
        allow_expunge: bool,
        enabled: Enabled,
    ) -> Result<Synced, ImapError> {
        self.mark().opening_settled().await;
        self.mark().asking();
        let request = ChangesRequest {
            owner: self.owner.clone(),
            mailbox: self.name(),
            uidvalidity: self.uidvalidity,
            since_modseq: self.view().highest_modseq,
        };
        let result = storage
            .call(&self.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.storage().changes(request).await }
            })
            .await;
        let changes = match result {
            Ok(changes) => changes,
            Err(e) => {
                // Not asked after all: the next sync asks again.
                self.mark().force();
                return Ok(lost_or_current(&e));
            }
        };
        let highest = changes.status.map(|s| s.highestmodseq).unwrap_or(0);
        let mut bytes = Vec::new();
        let updates = self.apply(
            &mut self.view(),
            &changes.vanished,
            changes.changed,
            highest,
            allow_expunge,
            &mut bytes,
        );
        self.report(storage, out, &updates, bytes, enabled).await
    }

    /// Applies `deltas` in order to `view` (and the expunges it held back,
    /// when `allow_expunge`).
    fn take_deltas(
        &self,
        view: &mut View,
        deltas: Vec<ChangeDelta>,
        allow_expunge: bool,
        bytes: &mut Vec<u8>,
    ) -> Vec<Update> {
        let mut updates = Vec::new();
        for delta in deltas {
            view.note_claimed(delta.recent_claimed_through);
            updates.extend(self.apply(
                view,
                &delta.vanished,
                delta.changed,
                delta.highestmodseq,
                allow_expunge,
                bytes,
            ));
        }
        if allow_expunge && view.has_pending_expunges() {
            let modseq = view.highest_modseq;
            updates.extend(view.apply_changes(&[], Vec::new(), modseq, true));
        }
        updates
    }

    /// Applies one set of changes to `view`, writing to `bytes` the FLAGS
    /// a new keyword needs first.
    fn apply(
        &self,
        view: &mut View,
        vanished: &[u32],
        changed: Vec<MessageFlags>,
        highest_modseq: u64,
        allow_expunge: bool,
        bytes: &mut Vec<u8>,
    ) -> Vec<Update> {
        let changed: Vec<FlagUpdate> = changed
            .into_iter()
            .map(|m| FlagUpdate {
                uid: m.uid,
                flags: m.flags,
                modseq: m.modseq,
            })
            .collect();
        for change in &changed {
            self.announce_keywords(&change.flags, bytes);
        }
        view.apply_changes(vanished, changed, highest_modseq, allow_expunge)
    }

    /// Tells the client `updates` (after `bytes`), and refreshes the live
    /// searches when something changed.
    async fn report(
        &self,
        storage: &Storage,
        out: &Output,
        updates: &[Update],
        mut bytes: Vec<u8>,
        enabled: Enabled,
    ) -> Result<Synced, ImapError> {
        self.settle_recent(storage, enabled).await;
        self.write_updates(&mut bytes, updates, enabled);
        if enabled.condstore && updates.iter().any(|u| matches!(u, Update::Exists(_))) {
            self.tell_highest_modseq(&mut bytes);
        }
        if !bytes.is_empty() {
            out.send(&bytes).await?;
        }
        if !updates.is_empty() {
            contexts::refresh(self, storage, out).await?;
        }
        Ok(Synced::Current)
    }

    /// `* OK [HIGHESTMODSEQ n]` after new messages were told by EXISTS,
    /// which carries no mod-sequence (as Dovecot does): a CONDSTORE client
    /// keeps `n` for its next CHANGEDSINCE or QRESYNC, and without it
    /// took the messages it had just appended for changed since (interimap
    /// then saw conflicts with its own changes). `n` is what the view
    /// knows everything up to; nothing is said while expunges wait to be
    /// told, as a client that keeps `n` would never hear of them.
    fn tell_highest_modseq(&self, bytes: &mut Vec<u8>) {
        let view = self.view();
        if view.has_pending_expunges() {
            return;
        }
        status_response(
            bytes,
            None,
            StatusKind::Ok,
            Some(&Code::HighestModSeq(view.highest_modseq)),
            "Highest modseq.",
        );
    }
}

/// Whether a failed Changes call means the mailbox is gone.
fn lost_or_current(error: &StorageError) -> Synced {
    match error.reason() {
        ErrorReason::Nonexistent | ErrorReason::UidvalidityChanged => Synced::Lost,
        _ => {
            tracing::warn!(%error, "could not fetch mailbox changes");
            Synced::Current
        }
    }
}

/// Locks a mutex whose data stays valid even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
