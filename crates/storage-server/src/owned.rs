//! Every storage request names the owner whose mail it concerns; the
//! [`OwnedRequest`] trait lets the [`crate::gate::Gate`] admit any of them
//! the same way.

use mailkeep_storage_rpc::storage as pb;

/// A request message that names its owner (the `owner` field every
/// storage RPC request carries), so one admission path serves every call.
pub(crate) trait OwnedRequest {
    /// The user whose mail the request reads or changes.
    fn owner(&self) -> &str;
}

macro_rules! owned_requests {
    ($($request:ident),* $(,)?) => {
        $(
            impl OwnedRequest for pb::$request {
                fn owner(&self) -> &str {
                    &self.owner
                }
            }
        )*
    };
}

owned_requests!(
    ListMailboxesRequest,
    CreateMailboxRequest,
    DeleteMailboxRequest,
    RenameMailboxRequest,
    MailboxStatusRequest,
    SelectMailboxRequest,
    ChangesRequest,
    FetchRequest,
    StoreFlagsRequest,
    ExpungeRequest,
    MailboxExistsRequest,
    FetchStructureRequest,
    FetchSectionRequest,
    CopyRequest,
    SubscriptionRequest,
    ListSubscriptionsRequest,
    SetSpecialUseRequest,
    SearchRequest,
    SortRequest,
    ThreadRequest,
    WatchRequest,
    GetMetadataRequest,
    SetMetadataRequest,
    OpenMaildropRequest,
    LockMaildropRequest,
    CommitMaildropRequest,
);
