//! The extensions a client has enabled (RFC 5161 ENABLE), which change how
//! the server answers.

/// What this connection's client enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Enabled {
    /// IMAP4rev2 (RFC 9051): no RECENT, ESEARCH answers, LIST-EXTENDED forms.
    pub(crate) rev2: bool,
    /// UTF8=ACCEPT (RFC 6855): mailbox names and strings in UTF-8.
    pub(crate) utf8: bool,
    /// CONDSTORE (RFC 7162): MODSEQ in unsolicited FETCH responses. Also
    /// switched on by any command that uses MODSEQ.
    pub(crate) condstore: bool,
    /// QRESYNC (RFC 7162): VANISHED instead of EXPUNGE; implies CONDSTORE.
    pub(crate) qresync: bool,
    /// UIDONLY (RFC 9586): no sequence numbers in either direction.
    pub(crate) uidonly: bool,
}

impl Enabled {
    /// This set with everything `other` enables too.
    pub(crate) fn union(self, other: Enabled) -> Enabled {
        Enabled {
            rev2: self.rev2 || other.rev2,
            utf8: self.utf8 || other.utf8,
            condstore: self.condstore || other.condstore || other.qresync,
            qresync: self.qresync || other.qresync,
            uidonly: self.uidonly || other.uidonly,
        }
    }

    /// How strings and mailbox names are written: UTF-8 once UTF8=ACCEPT
    /// or IMAP4rev2 is enabled, else ASCII and modified UTF-7.
    pub(crate) fn encoder(self) -> mailkeep_imap_proto::Encoder {
        mailkeep_imap_proto::Encoder {
            utf8: self.utf8 || self.rev2,
        }
    }

    /// Only CONDSTORE (a command that used MODSEQ).
    pub(crate) fn condstore() -> Enabled {
        Enabled {
            condstore: true,
            ..Enabled::default()
        }
    }
}
