//! NOTIFY SET / NOTIFY NONE (RFC 5465): which events of which mailboxes
//! the server reports without being asked.

use super::CommandBody;
use crate::grammar::fetch::{FetchAttribute, fetch_att};
use crate::grammar::mailbox::mailbox_list;
use crate::grammar::{Cursor, PResult, bad};

/// NOTIFY: `set: None` is NOTIFY NONE (stop all notifications).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// What to report; `None` for NOTIFY NONE.
    pub set: Option<NotifySet>,
}

/// NOTIFY SET's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySet {
    /// STATUS: send a STATUS for each named mailbox now.
    pub status: bool,
    /// The event groups, in the order given.
    pub groups: Vec<NotifyGroup>,
}

/// One `(mailboxes events)` group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyGroup {
    /// Which mailboxes.
    pub mailboxes: NotifyMailboxes,
    /// Which events; `None` for NONE (none of these mailboxes' events).
    pub events: Option<Vec<NotifyEvent>>,
}

/// A NOTIFY mailbox specifier (RFC 5465 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyMailboxes {
    /// SELECTED: the selected mailbox, at once.
    Selected,
    /// SELECTED-DELAYED: the selected mailbox, expunges held back.
    SelectedDelayed,
    /// INBOXES: mailboxes that get mail delivered.
    Inboxes,
    /// PERSONAL: the user's own mailboxes.
    Personal,
    /// SUBSCRIBED: subscribed mailboxes.
    Subscribed,
    /// SUBTREE: these mailboxes and all below them.
    Subtree(Vec<String>),
    /// MAILBOXES: exactly these mailboxes.
    Mailboxes(Vec<String>),
}

/// A NOTIFY event (RFC 5465 §5, names from RFC 5423).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyEvent {
    /// MessageNew [(fetch-att ...)]: new messages, with these items.
    MessageNew(Vec<FetchAttribute>),
    /// MessageExpunge
    MessageExpunge,
    /// FlagChange
    FlagChange,
    /// AnnotationChange
    AnnotationChange,
    /// MailboxName: mailboxes created, deleted or renamed.
    MailboxName,
    /// SubscriptionChange
    SubscriptionChange,
    /// MailboxMetadataChange (RFC 5464)
    MailboxMetadataChange,
    /// ServerMetadataChange (RFC 5464)
    ServerMetadataChange,
    /// An event this parser does not know (the server answers
    /// `NO [BADEVENT ...]`), upper-cased.
    Other(String),
}

impl NotifyEvent {
    /// Whether this is a message event, the only kind SELECTED and
    /// SELECTED-DELAYED allow (RFC 5465 §6.1).
    pub fn is_message_event(&self) -> bool {
        matches!(
            self,
            NotifyEvent::MessageNew(_)
                | NotifyEvent::MessageExpunge
                | NotifyEvent::FlagChange
                | NotifyEvent::AnnotationChange
        )
    }
}

/// One event.
fn event(c: &mut Cursor<'_>) -> PResult<NotifyEvent> {
    let raw = c.atom("event")?;
    Ok(match raw.to_ascii_lowercase().as_slice() {
        b"messagenew" => {
            let mut items = Vec::new();
            if c.peek() == Some(b' ') && c.peek2() == Some(b'(') {
                c.sp("fetch items")?;
                items = c.paren_list("fetch item", false, fetch_att)?;
            }
            NotifyEvent::MessageNew(items)
        }
        b"messageexpunge" => NotifyEvent::MessageExpunge,
        b"flagchange" => NotifyEvent::FlagChange,
        b"annotationchange" => NotifyEvent::AnnotationChange,
        b"mailboxname" => NotifyEvent::MailboxName,
        b"subscriptionchange" => NotifyEvent::SubscriptionChange,
        b"mailboxmetadatachange" => NotifyEvent::MailboxMetadataChange,
        b"servermetadatachange" => NotifyEvent::ServerMetadataChange,
        _ => NotifyEvent::Other(String::from_utf8_lossy(raw).to_ascii_uppercase()),
    })
}

/// `"(" filter-mailboxes SP events ")"`.
fn group(c: &mut Cursor<'_>) -> PResult<NotifyGroup> {
    c.expect(b'(', "'(' to start an event group")?;
    let raw = c.atom("mailbox specifier")?;
    let mailboxes = match raw.to_ascii_uppercase().as_slice() {
        b"SELECTED" => NotifyMailboxes::Selected,
        b"SELECTED-DELAYED" => NotifyMailboxes::SelectedDelayed,
        b"INBOXES" => NotifyMailboxes::Inboxes,
        b"PERSONAL" => NotifyMailboxes::Personal,
        b"SUBSCRIBED" => NotifyMailboxes::Subscribed,
        b"SUBTREE" => {
            c.sp("mailboxes")?;
            NotifyMailboxes::Subtree(mailbox_list(c)?)
        }
        b"MAILBOXES" => {
            c.sp("mailboxes")?;
            NotifyMailboxes::Mailboxes(mailbox_list(c)?)
        }
        _ => {
            return bad(format!(
                "Unknown mailbox specifier {}",
                String::from_utf8_lossy(raw)
            ));
        }
    };
    c.sp("events")?;
    let events = if c.eat_word("NONE") {
        None
    } else {
        Some(c.paren_list("event", false, event)?)
    };
    c.expect(b')', "')' to end the event group")?;
    if let Some(events) = &events {
        check_events(&mailboxes, events)?;
    }
    Ok(NotifyGroup { mailboxes, events })
}

/// RFC 5465 §5's rules for one group's events, each answered with BAD:
/// SELECTED takes message events only; MessageNew and MessageExpunge come
/// together; FlagChange and AnnotationChange need both of them.
fn check_events(mailboxes: &NotifyMailboxes, events: &[NotifyEvent]) -> PResult<()> {
    let selected = matches!(
        mailboxes,
        NotifyMailboxes::Selected | NotifyMailboxes::SelectedDelayed
    );
    if selected && events.iter().any(|e| !e.is_message_event()) {
        return bad("SELECTED and SELECTED-DELAYED take message events only");
    }
    let new = events
        .iter()
        .any(|e| matches!(e, NotifyEvent::MessageNew(_)));
    let expunge = events.contains(&NotifyEvent::MessageExpunge);
    if new != expunge {
        return bad("MessageNew and MessageExpunge must be given together");
    }
    let changes = events
        .iter()
        .any(|e| matches!(e, NotifyEvent::FlagChange | NotifyEvent::AnnotationChange));
    if changes && !new {
        return bad("FlagChange and AnnotationChange need MessageNew and MessageExpunge");
    }
    Ok(())
}

/// `SP ("NONE" / "SET" [SP "STATUS"] 1*(SP event-group))`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("NONE or SET")?;
    if c.eat_word("NONE") {
        c.eol()?;
        return Ok(CommandBody::Notify(Notify { set: None }));
    }
    if !c.eat_word("SET") {
        return bad("Expected NONE or SET");
    }
    c.sp("event group")?;
    let status = c.eat_word("STATUS");
    if status {
        c.sp("event group")?;
    }
    let mut groups = vec![group(c)?];
    while !c.at_eol() {
        c.sp("event group")?;
        groups.push(group(c)?);
    }
    c.eol()?;
    let selected = groups
        .iter()
        .filter(|g| {
            matches!(
                g.mailboxes,
                NotifyMailboxes::Selected | NotifyMailboxes::SelectedDelayed
            )
        })
        .count();
    if selected > 1 {
        return bad("Only one of SELECTED and SELECTED-DELAYED may be given");
    }
    Ok(CommandBody::Notify(Notify {
        set: Some(NotifySet { status, groups }),
    }))
}
