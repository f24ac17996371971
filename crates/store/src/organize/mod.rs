//! Organising a store beyond single mailboxes: COPY and MOVE between
//! mailboxes, special-use attributes (RFC 6154), the mailboxes every owner
//! gets (Drafts, Sent, ...), subscriptions (RFC 9051 §6.3.7–6.3.8) and the
//! owner's quota usage bookkeeping.

mod auto;
mod copy_move;
mod quota;
mod special_use;
mod subscriptions;

pub use auto::AutoMailbox;
pub use copy_move::Copied;
pub use special_use::SPECIAL_USE_ATTRIBUTES;
pub(crate) use special_use::{
    add_special_use, attributes_of, canonical_attributes, store_attributes,
};

/// The tables and triggers of this module, applied with the main schema.
///
/// `quota_usage` is one row kept equal to `SUM(size)`/`COUNT(*)` of
/// `messages` by triggers, so every path that inserts or deletes messages
/// (including cascades from a deleted mailbox) updates it in the same
/// transaction without calling us. It is initialised from the existing rows
/// when first created.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quota_usage (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    bytes INTEGER NOT NULL,
    count INTEGER NOT NULL
);
INSERT OR IGNORE INTO quota_usage (id, bytes, count)
    SELECT 1, COALESCE(SUM(size), 0), COUNT(*) FROM messages;
CREATE TRIGGER IF NOT EXISTS quota_on_insert AFTER INSERT ON messages BEGIN
    UPDATE quota_usage SET bytes = bytes + NEW.size, count = count + 1 WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS quota_on_delete AFTER DELETE ON messages BEGIN
    UPDATE quota_usage SET bytes = bytes - OLD.size, count = count - 1 WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS quota_on_resize AFTER UPDATE OF size ON messages BEGIN
    UPDATE quota_usage SET bytes = bytes - OLD.size + NEW.size WHERE id = 1;
END;
CREATE TABLE IF NOT EXISTS special_use (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    attribute  TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, attribute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscriptions (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS subscriptions_follow_rename
AFTER UPDATE OF name ON mailboxes BEGIN
    UPDATE OR REPLACE subscriptions SET name = NEW.name WHERE name = OLD.name;
END;
";
