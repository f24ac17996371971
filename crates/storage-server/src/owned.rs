//! Every storage request names the owner whose mail it concerns, and says
//! what a guest (a user other than the owner) needs of the owner's ACLs
//! to make it; the [`OwnedRequest`] trait lets the [`crate::gate::Gate`]
//! admit any of them the same way, so no call can skip the ACL check.

use mailkeep_storage_rpc::storage as pb;
use mailkeep_store::Rights;

use crate::guest::{GuestNeed, flag_rights};

/// A request message that names its owner (the `owner` field every
/// storage RPC request carries), so one admission path serves every call.
pub(crate) trait OwnedRequest {
    /// The user whose mail the request reads or changes.
    fn owner(&self) -> &str;

    /// What a guest needs of the owner's ACLs to make this request as
    /// `method` (RFC 4314 §4). Every request type must say.
    fn guest_needs(&self, method: &str) -> GuestNeed;

    /// What another user's deliver ticket (a delivery into a shared
    /// mailbox) needs to make this request as `method`: nothing it may do
    /// ([`GuestNeed::OwnerOnly`]) unless the request says otherwise below.
    /// (Append, the one other call a deliverer makes, is a stream and
    /// checks its header itself, in `append`.)
    fn deliverer_needs(&self, method: &str) -> GuestNeed;
}

/// Implements [`OwnedRequest`] for requests whose guest need is written
/// as an expression of the request `r` (and the method name `m`).
/// A request may add `, deliver: EXPR` for what a deliverer needs
/// (see [`OwnedRequest::deliverer_needs`]); without it a deliverer is
/// refused.
macro_rules! owned_requests {
    ($($request:ident => |$r:ident, $m:ident| $need:expr $(, deliver: $deliver:expr)?;)*) => {
        $(
            impl OwnedRequest for pb::$request {
                fn owner(&self) -> &str {
                    &self.owner
                }

                fn guest_needs(&self, method: &str) -> GuestNeed {
                    let ($r, $m) = (self, method);
                    let _ = $m;
                    $need
                }

                fn deliverer_needs(&self, method: &str) -> GuestNeed {
                    let ($r, $m) = (self, method);
                    let _ = ($r, $m);
                    deliverer_need!($($deliver)?)
                }
            }
        )*
    };
}

/// A deliverer's need as a request declares it, [`GuestNeed::OwnerOnly`]
/// when it declares none.
macro_rules! deliverer_need {
    () => {
        GuestNeed::OwnerOnly
    };
    ($deliver:expr) => {
        $deliver
    };
}

fn on(mailbox: &str, rights: Rights) -> GuestNeed {
    GuestNeed::Mailbox(mailbox.to_owned(), rights)
}

owned_requests! {
    ListMailboxesRequest => |_r, _m| GuestNeed::Filtered;
    CreateMailboxRequest => |r, _m| GuestNeed::CreateUnder(r.name.clone());
    DeleteMailboxRequest => |r, _m| on(&r.name, Rights::DELETE_MAILBOX);
    RenameMailboxRequest => |r, _m| match crate::guest::parent_of(&r.to) {
        Some(parent) => GuestNeed::Both(
            (r.from.clone(), Rights::DELETE_MAILBOX),
            (parent.to_owned(), Rights::CREATE),
        ),
        None => GuestNeed::OwnerOnly,
    };
    MailboxStatusRequest => |r, _m| on(&r.name, Rights::READ);
    SelectMailboxRequest => |r, _m| on(&r.name, Rights::READ);
    ChangesRequest => |r, _m| on(&r.mailbox, Rights::READ);
    ClaimRecentRequest => |r, _m| on(&r.mailbox, Rights::READ);
    FetchRequest => |r, _m| on(&r.mailbox, Rights::READ);
    StoreFlagsRequest => |r, _m| on(
        &r.mailbox,
        flag_rights(&r.flags, r.mode == pb::StoreMode::Replace as i32),
    );
    ExpungeRequest => |r, _m| on(&r.mailbox, Rights::EXPUNGE);
    // A delivery's `+shared.alice.Team`: whether the deliverer may post
    // there; a mailbox without 'p' for them is answered as missing or
    // refused, and the delivery falls back to the recipient's INBOX.
    MailboxExistsRequest => |r, _m| on(&r.name, Rights::LOOKUP), deliver: on(&r.name, Rights::POST);
    FetchStructureRequest => |r, _m| on(&r.mailbox, Rights::READ);
    FetchSectionRequest => |r, _m| on(&r.mailbox, Rights::READ);
    CopyRequest => |r, m| {
        let source = if m == "Move" {
            Rights::READ.union(Rights::DELETE_MESSAGES).union(Rights::EXPUNGE)
        } else {
            Rights::READ
        };
        GuestNeed::Both((r.mailbox.clone(), source), (r.target.clone(), Rights::INSERT))
    };
    SubscriptionRequest => |_r, _m| GuestNeed::OwnerOnly;
    ListSubscriptionsRequest => |_r, _m| GuestNeed::OwnerOnly;
    SetSpecialUseRequest => |_r, _m| GuestNeed::OwnerOnly;
    SearchRequest => |r, _m| on(&r.mailbox, Rights::READ);
    SortRequest => |r, _m| on(&r.mailbox, Rights::READ);
    ThreadRequest => |r, _m| on(&r.mailbox, Rights::READ);
    // Every mailbox: the stream shows a guest only what the ACLs let
    // them see (`watch/guest.rs`), and only a guest who may look up some
    // mailbox of the owner gets one (no stream, storage process or store
    // work for a user the owner shares nothing with).
    WatchRequest => |r, _m| if r.mailbox.is_empty() {
        GuestNeed::AnyOf(None, Rights::LOOKUP)
    } else {
        on(&r.mailbox, Rights::READ)
    };
    GetMetadataRequest => |r, _m| if r.mailbox.is_empty() {
        GuestNeed::OwnerOnly
    } else {
        on(&r.mailbox, Rights::LOOKUP.union(Rights::READ))
    };
    SetMetadataRequest => |_r, _m| GuestNeed::OwnerOnly;
    OpenMaildropRequest => |_r, _m| GuestNeed::OwnerOnly;
    LockMaildropRequest => |_r, _m| GuestNeed::OwnerOnly;
    CommitMaildropRequest => |_r, _m| GuestNeed::OwnerOnly;
    RetrieveMaildropRequest => |_r, _m| GuestNeed::OwnerOnly;
    MailboxAclRequest => |r, m| if m == "MyRights" {
        GuestNeed::AnyRight(r.mailbox.clone())
    } else {
        on(&r.mailbox, Rights::ADMIN)
    };
    SetAclRequest => |r, _m| on(&r.mailbox, Rights::ADMIN);
    DeleteAclRequest => |r, _m| on(&r.mailbox, Rights::ADMIN);
    ListRightsRequest => |r, _m| on(&r.mailbox, Rights::ADMIN);
}
